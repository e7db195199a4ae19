#include "ir/ops.h"

#include <array>

#include "common/error.h"
#include "ir/op_rules.h"

namespace spmd::ir {
namespace {

using namespace rules;

// The registry: every op of the IR, its arity, shape rule, gradient rule, sharding rule and
// traits (ops.h's OpTraits; those not spelled out are the defaults).
constexpr std::array kOps = {
    // Sources.
    OpDef{"input", 0, fed, nullptr, elementwise, {.source = Source::fed}},
    OpDef{"param", 0, declared, nullptr, elementwise, {.source = Source::initialized}},
    OpDef{"state", 0, declared, nullptr, elementwise, {.source = Source::initialized}},
    OpDef{"constant", 0, declared, nullptr, elementwise, {.source = Source::constant}},
    // Compute.
    OpDef{"matmul", 2, rules::matmul, d_matmul, matmul_rule},
    OpDef{"add", 2, binary, d_add, elementwise, {.partial_sums = PartialSums::stay_partial}},
    OpDef{"sub", 2, binary, d_sub, elementwise, {.partial_sums = PartialSums::stay_partial}},
    OpDef{"mul", 2, binary, d_mul, elementwise},
    OpDef{"div", 2, binary, d_div, elementwise},
    OpDef{"neg", 1, unary, d_neg, elementwise},
    OpDef{"exp", 1, unary, d_exp, elementwise},
    OpDef{"log", 1, unary, d_log, elementwise},
    OpDef{"sqrt", 1, unary, d_sqrt, elementwise},
    OpDef{"rsqrt", 1, unary, d_rsqrt, elementwise},
    OpDef{"tanh", 1, unary, d_tanh, elementwise, {.activation = true}},
    OpDef{"relu", 1, unary, d_relu, elementwise, {.activation = true}},
    OpDef{"gelu", 1, unary, d_gelu, elementwise, {.activation = true}},
    OpDef{"reduce_sum", 1, rules::reduce, d_reduce_sum, reduce_rule},
    OpDef{"reduce_mean", 1, rules::reduce, d_reduce_mean, reduce_rule, {.partial_sums = PartialSums::mean_rescaled}},
    OpDef{"reduce_max", 1, rules::reduce, d_reduce_max, reduce_max_rule},
    OpDef{"softmax", 1, along_axis, d_softmax, along_axis_rule},
    OpDef{"log_softmax", 1, along_axis, d_log_softmax, along_axis_rule},
    OpDef{"layernorm", 3, rules::layernorm, d_layernorm, layernorm_rule},
    OpDef{"transpose", 1, rules::transpose, d_transpose, transpose_rule},
    OpDef{"reshape", 1, rules::reshape, d_reshape, reshape_rule, {.view = true, .localize = local_shape}},
    OpDef{"broadcast", 1, rules::broadcast, d_broadcast, elementwise, {.localize = local_shape}},
    OpDef{"slice", 1, rules::slice, d_slice, resize_rule, {.localize = local_slice}},
    OpDef{"concat", -1, rules::concat, d_concat, concat_rule},
    OpDef{"gather", 2, rules::gather, d_gather, gather_rule, {.lookup = true}},
    OpDef{"causal_mask", 1, rules::causal_mask, d_causal_mask, causal_mask_rule},
    OpDef{"cross_entropy", 2, rules::cross_entropy, d_cross_entropy, cross_entropy_rule},
    // Gradients.
    OpDef{"relu_grad", 2, same_as_first, nullptr, elementwise},
    OpDef{"gelu_grad", 2, same_as_first, nullptr, elementwise},
    OpDef{"softmax_grad", 2, along_axis, nullptr, along_axis_rule},
    OpDef{"log_softmax_grad", 2, along_axis, nullptr, along_axis_rule},
    OpDef{"layernorm_grad", 3, rules::layernorm_grad, nullptr, layernorm_rule},
    OpDef{"layernorm_scale_grad", 2, rules::layernorm_scale_grad, nullptr, layernorm_scale_grad_rule},
    OpDef{"reduce_max_grad", 3, rules::reduce_max_grad, nullptr, reduce_max_grad_rule},
    OpDef{"pad", 1, rules::pad, nullptr, resize_rule},
    OpDef{"scatter_add", 2, rules::scatter_add, nullptr, scatter_add_rule, {.lookup = true}},
    OpDef{"cross_entropy_grad", 3, rules::cross_entropy_grad, nullptr, cross_entropy_rule},
    // Optimizer updates.
    OpDef{"ema", 2, same_as_first, nullptr, elementwise, {.optimizer_update = true}},
    OpDef{"ema_sq", 2, same_as_first, nullptr, elementwise, {.optimizer_update = true}},
    OpDef{"sgd", 3, sgd_step, nullptr, elementwise, {.optimizer_update = true}},
    OpDef{"adamw", 5, adamw_step, nullptr, elementwise, {.optimizer_update = true}},
    // Collectives of a per-device program (partitioner/lower.h), run by the runtime:
    // redistribute{from, to, global} moves a shard from one layout to another.
    OpDef{"redistribute", 1, redistributed, nullptr, elementwise, {.collective = true}},
};

}  // namespace

namespace {

// An open-addressed table of the registry, hashed on the name's length and three of its
// characters: every pass over a program looks up each node's op (the search lowers and
// simulates thousands of programs of tens of thousands of nodes), and hashing every
// character costs more than this.
class OpIndex {
 public:
  OpIndex() {
    slots_.fill(nullptr);
    for (const OpDef& def : kOps) {
      size_t i = hash(def.name);
      while (slots_[i]) i = (i + 1) % kSlots;
      slots_[i] = &def;
    }
  }
  const OpDef* find(std::string_view name) const {
    for (size_t i = hash(name); slots_[i]; i = (i + 1) % kSlots) {
      if (slots_[i]->name == name) return slots_[i];
    }
    return nullptr;
  }

 private:
  static constexpr size_t kSlots = 256;  // over twice the registry, so probes stay short
  static_assert(kOps.size() * 2 <= kSlots);
  static size_t hash(std::string_view s) {
    if (s.empty()) return 0;
    const auto c = [&](size_t i) { return static_cast<size_t>(static_cast<unsigned char>(s[i])); };
    return (s.size() * 131 + c(0) * 31 + c(s.size() / 2) * 7 + c(s.size() - 1)) % kSlots;
  }
  std::array<const OpDef*, kSlots> slots_;
};

}  // namespace

const OpDef* find_op(std::string_view op) {
  static const OpIndex index;
  return index.find(op);
}

const OpDef& op_def(std::string_view op) {
  if (const OpDef* def = find_op(op)) return *def;
  throw Error("unknown op '" + std::string(op) + "'");
}

std::span<const OpDef> all_ops() { return kOps; }

size_t op_index(std::string_view op) { return static_cast<size_t>(&op_def(op) - all_ops().data()); }

const OpTraits& op_traits(std::string_view op) { return op_def(op).traits; }

bool is_optimizer_update(std::string_view op) { return op_traits(op).optimizer_update; }

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      throw Error("shapes " + to_string(a) + " and " + to_string(b) + " do not broadcast");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int normalize_axis(int64_t axis, int rank) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    throw Error("axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  }
  return static_cast<int>(a);
}

}  // namespace spmd::ir
