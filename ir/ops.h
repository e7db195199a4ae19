// The op registry: one entry per op, found by name in one hop. Each entry says how many
// operands the op takes, how its result type follows from its operands (shape rule) and how
// its gradient is built from other ops (gradient rule), how its dimensions may be sharded
// (sharding rule), and the traits other modules act on (OpTraits): lowering, the runtime and
// the kernels read an op's behaviour from its row, never by comparing its name. Kernels are
// found by the same name in kernels/ (kernels::Backend), and every backend must implement
// every op its runtime runs (tests/kernels/parity_test.cpp).
//
// Semantics, all tensors row-major, f32 unless said (i32 ids and labels):
//   sources      input{feed} param{init=normal|zeros|ones, std} state{init=zeros}
//                constant{value}: the node's declared type, filled with `value`
//   matmul a,b {transpose_a, transpose_b}: a[...,M,K] x b[...,K,N] -> [...,M,N]; a transposed
//                operand is stored with its last two axes swapped. Batch dims equal, or one
//                operand of rank 2 shared by every batch.
//   add sub mul div   numpy broadcasting
//   neg exp log sqrt rsqrt tanh relu gelu   elementwise (gelu: tanh approximation)
//   reduce_sum reduce_mean reduce_max {axes, keepdims}
//   softmax log_softmax {axis}
//   layernorm x,scale,bias {eps}: over the last axis; scale and bias are [D]
//   transpose{perm}  reshape{shape}  broadcast{shape}  slice{begin,end}  concat{axis}
//   gather table[V,D], ids:i32[...] -> [...,D]           (embedding lookup)
//   causal_mask x[...,S,S] {fill}: x with entries above the diagonal (j > i) set to fill
//   cross_entropy logits[...,C], labels:i32[...] -> [...]: logsumexp(logits) - logits[label]
// Gradient ops (made by autodiff):
//   relu_grad x,dy   gelu_grad x,dy   softmax_grad y,dy {axis}: y*(dy - sum(dy*y))
//   log_softmax_grad y,dy {axis}: dy - exp(y)*sum(dy)
//   layernorm_grad x,scale,dy {eps} -> dx; layernorm_scale_grad x,dy {eps} -> [D]:
//                sum over leading axes of dy * (x - mean) * rstd
//   reduce_max_grad x,y,dy {axes,keepdims}: dy where x equals the max y, else 0
//   pad x {begin} -> declared type: x placed at `begin` in zeros (the gradient of slice)
//   scatter_add ids,dy {rows} -> [rows,D]: out[ids[i]] += dy[i] (the gradient of gather)
//   cross_entropy_grad logits,labels,dloss -> [...,C]: dloss * (softmax(logits) - onehot)
// Optimizer ops (updates of params and state are ops, so they can be sharded like any op):
//   ema x,g {decay,gain}: decay*x + gain*g          ema_sq x,g {decay,gain}: decay*x + gain*g*g
//   sgd p,v,lr: p - lr*v                            (lr is a scalar input)
//   adamw p,m,v,lr,step {beta1,beta2,eps,weight_decay}:
//                p - lr * (m/(1-beta1^step) / (sqrt(v/(1-beta2^step)) + eps) + weight_decay*p)
// Collectives (only in per-device programs, run by the runtime rather than a kernel):
//   redistribute x {from, to, global}: x's shard under layout `from` (collectives/layout.h)
//                turned into its shard under `to`, for a tensor of shape `global`
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"

namespace spmd::ir {

class Builder;
struct ShardingRule;

// Where a source's value comes from (sources are the nodes without operands).
enum class Source {
  none,         // not a source: computed from its operands by a kernel
  fed,          // input: written by the runtime before each step (data, lr, step)
  initialized,  // param, state: initialised once by the runtime from the seed, then updated
  constant,     // constant: computed once by its kernel, from its attributes
};

// How an op treats partial sums in SPMD lowering (partitioner/lower.h): values of which each
// device holds one summand, their sum not yet taken.
enum class PartialSums {
  summed_first,   // a partial operand is summed (a collective) before the op runs
  stay_partial,   // linear in its operands together (add, sub): operands partial over the
                  // same axes give the partial sum of the result, so the sum is taken once
  mean_rescaled,  // a mean: over a split dimension each device's local mean counts for its
                  // share only, so its partial result is scaled by 1/shards
};

// What lowering, the runtime and the kernels need to know about an op beyond its rules.
struct OpTraits {
  Source source = Source::none;
  // The result is operand 0's bytes under a new shape (reshape): no kernel runs, no buffer.
  bool view = false;
  // Run by the runtime as collectives over its communicators, not by a kernel (redistribute).
  bool collective = false;
  // An optimizer update (ema, ema_sq, sgd, adamw): elementwise, rewriting its operand 0, so
  // the runtime may update in place and ZeRO's propagation stays inside these ops.
  bool optimizer_update = false;
  // An elementwise nonlinearity (relu, gelu, tanh): the dimension analysis reads dense layers
  // joined by one as an MLP, whose hidden dimension Megatron splits.
  bool activation = false;
  // Reads (gather) or writes (scatter_add) rows of a table by index: its work is the rows it
  // moves, so the table's rows, its rule's replicated factor found in one place only, are
  // looked up, not iterated over (the cost model's FLOP), and nothing is contracted.
  bool lookup = false;
  PartialSums partial_sums = PartialSums::summed_first;
  // Rewrites the attributes that spell out the global op's sizes (reshape's shape, slice's
  // bounds) for its per-device version, whose type `local.type` is already the shard's.
  // nullptr: no attribute depends on sizes that sharding changes.
  void (*localize)(Node& local, const Node& global) = nullptr;

  // Whether a backend computes the op: every op but the sources the runtime fills, views and
  // collectives. Each backend must implement each of these.
  constexpr bool needs_kernel() const {
    return (source == Source::none || source == Source::constant) && !view && !collective;
  }
};

struct OpDef {
  std::string_view name;
  int arity;  // number of operands, -1 for any number
  // Result type from the operand types and the node's attributes (and, for sources,
  // its declared type). Throws spmd::Error on a mismatch.
  TensorType (*infer)(std::span<const TensorType> operands, const Node& node);
  // Appends to `b` the ops computing the gradient of each operand from `dy`, the gradient
  // of the result `y` of node `n`; -1 where an operand has none. nullptr: not differentiable.
  std::vector<ValueId> (*grad)(Builder& b, const Node& n, ValueId y, ValueId dy);
  // How the dimensions of operands and result relate (ir/sharding_rule.h).
  ShardingRule (*sharding)(std::span<const TensorType> operands, const Node& node);
  OpTraits traits{};  // none unless the row says: most rows name no trait
};

// The registry entry of `op`; throws spmd::Error for an unknown op.
const OpDef& op_def(std::string_view op);
// nullptr for an unknown op.
const OpDef* find_op(std::string_view op);
// All registered ops, in a stable order.
std::span<const OpDef> all_ops();
// The index of `op` in all_ops(), by which tables of per-op figures (measured rates) are
// kept; throws spmd::Error for an unknown op. One hash lookup.
size_t op_index(std::string_view op);

// The traits of `op`; throws spmd::Error for an unknown op.
const OpTraits& op_traits(std::string_view op);
// Shorthand for op_traits(op).optimizer_update.
bool is_optimizer_update(std::string_view op);

// Shape helpers shared by shape rules, gradients and kernels.
Shape broadcast_shapes(const Shape& a, const Shape& b);  // numpy rules; throws on mismatch
int normalize_axis(int64_t axis, int rank);               // -1 -> rank-1; throws if out of range

}  // namespace spmd::ir
