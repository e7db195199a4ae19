// A multi-layer perceptron classifying synthetic points (see runtime/data): ReLU hidden
// layers, softmax cross-entropy on integer labels.
#include <cmath>

#include "ir/builder.h"
#include "ir/models/zoo.h"

namespace spmd::ir {

Graph build_mlp(const ModelSpec& spec) {
  const auto& p = spec.params;
  int64_t batch = p.at("batch"), features = p.at("features"), hidden = p.at("hidden");
  Graph g;
  g.meta.set("task", std::string("classification"));
  Builder b(g);
  ValueId x = b.input("features", {DType::f32, {batch, features}}, "features");
  ValueId labels = b.input("labels", {DType::i32, {batch}}, "labels");
  int64_t width = features;
  for (int64_t l = 0; l <= p.at("layers"); ++l) {
    bool last = l == p.at("layers");
    int64_t out = last ? p.at("classes") : hidden;
    std::string prefix = last ? "head" : "layer" + std::to_string(l);
    // He initialisation keeps activations' scale through ReLU layers.
    ValueId w = b.param(prefix + ".w", {width, out}, "normal", std::sqrt(2.0 / static_cast<double>(width)));
    ValueId bias = b.param(prefix + ".b", {out}, "zeros");
    x = b.add(b.matmul(x, w), bias);
    if (!last) x = b.relu(x);
    width = out;
  }
  ValueId loss = b.reduce_mean(b.cross_entropy(x, labels), {0});
  g.outputs.emplace_back("loss", loss);
  return g;
}

}  // namespace spmd::ir
