// A decoder-only transformer (GPT-2 shape): learned token and position embeddings,
// pre-LayerNorm blocks of causal multi-head self-attention and a GELU MLP (d_ff = 4 d_model),
// a final LayerNorm and a language-model head trained on next-token cross-entropy.
#include <cmath>

#include "common/error.h"
#include "ir/builder.h"
#include "ir/models/zoo.h"

namespace spmd::ir {
namespace {

struct Dims {
  int64_t batch, seq, d_model, heads, head_dim, vocab, layers;
};

ValueId layernorm(Builder& b, ValueId x, const std::string& name, int64_t d) {
  return b.layernorm(x, b.param(name + ".scale", {d}, "ones"), b.param(name + ".bias", {d}, "zeros"));
}

// x W + c for a [d_in, d_out] weight named `name`.w (or as given) and bias `name`.b.
ValueId dense(Builder& b, ValueId x, const std::string& w_name, const std::string& b_name, int64_t d_in,
              int64_t d_out, double std) {
  ValueId w = b.param(w_name, {d_in, d_out}, "normal", std);
  return b.add(b.matmul(x, w), b.param(b_name, {d_out}, "zeros"));
}

// [B,S,D] -> [B,H,S,dh]: one slice of the model dimension per head.
ValueId split_heads(Builder& b, ValueId x, const Dims& d) {
  return b.transpose(b.reshape(x, {d.batch, d.seq, d.heads, d.head_dim}), {0, 2, 1, 3});
}

ValueId attention(Builder& b, ValueId x, const std::string& p, const Dims& d, double out_std) {
  int64_t D = d.d_model;
  ValueId q = split_heads(b, dense(b, x, p + ".wq", p + ".bq", D, D, 0.02), d);
  ValueId k = split_heads(b, dense(b, x, p + ".wk", p + ".bk", D, D, 0.02), d);
  ValueId v = split_heads(b, dense(b, x, p + ".wv", p + ".bv", D, D, 0.02), d);
  ValueId scores = b.scale(b.matmul(q, k, false, true), 1.0 / std::sqrt(static_cast<double>(d.head_dim)));
  // -1e9 rather than -inf: exp underflows to exactly 0 without inf - inf in the max shift.
  ValueId probs = b.softmax(b.causal_mask(scores, -1e9), -1);
  ValueId heads = b.transpose(b.matmul(probs, v), {0, 2, 1, 3});
  return dense(b, b.reshape(heads, {d.batch, d.seq, D}), p + ".wo", p + ".bo", D, D, out_std);
}

ValueId mlp(Builder& b, ValueId x, const std::string& p, const Dims& d, double out_std) {
  ValueId h = b.gelu(dense(b, x, p + ".w_in", p + ".b_in", d.d_model, 4 * d.d_model, 0.02));
  return dense(b, h, p + ".w_out", p + ".b_out", 4 * d.d_model, d.d_model, out_std);
}

}  // namespace

Graph build_gpt(const ModelSpec& spec) {
  const auto& p = spec.params;
  Dims d{p.at("batch"), p.at("seq"), p.at("d_model"), p.at("heads"), 0, p.at("vocab"), p.at("layers")};
  if (d.d_model % d.heads != 0) {
    throw Error("model 'gpt': d_model=" + std::to_string(d.d_model) + " is not divisible by heads=" +
                std::to_string(d.heads));
  }
  d.head_dim = d.d_model / d.heads;
  Graph g;
  g.meta.set("task", std::string("language_model"));
  Builder b(g);
  ValueId tokens = b.input("tokens", {DType::i32, {d.batch, d.seq}}, "tokens");
  ValueId targets = b.input("targets", {DType::i32, {d.batch, d.seq}}, "targets");
  ValueId x = b.add(b.gather(b.param("wte", {d.vocab, d.d_model}, "normal", 0.02), tokens),
                    b.param("wpe", {d.seq, d.d_model}, "normal", 0.01));
  // GPT-2 scales the residual projections by 1/sqrt(2 layers) so the residual stream's
  // variance does not grow with depth.
  double out_std = 0.02 / std::sqrt(2.0 * static_cast<double>(d.layers));
  for (int64_t l = 0; l < d.layers; ++l) {
    std::string layer = "layer" + std::to_string(l);
    x = b.add(x, attention(b, layernorm(b, x, layer + ".ln1", d.d_model), layer + ".attn", d, out_std));
    x = b.add(x, mlp(b, layernorm(b, x, layer + ".ln2", d.d_model), layer + ".mlp", d, out_std));
  }
  x = layernorm(b, x, "ln_f", d.d_model);
  ValueId logits = b.matmul(x, b.param("head.w", {d.d_model, d.vocab}, "normal", 0.02));
  ValueId loss = b.reduce_mean(b.cross_entropy(logits, targets), {0, 1});
  g.outputs.emplace_back("loss", loss);
  return g;
}

}  // namespace spmd::ir
