// Internal: the shape, gradient and sharding rules and the attribute localisers that the
// registry (ops.cpp) lists per op.
#pragma once

#include <span>
#include <vector>

#include "ir/builder.h"
#include "ir/ops.h"
#include "ir/sharding_rule.h"

namespace spmd::ir::rules {

using Types = std::span<const TensorType>;

// Shape rules (shape_rules.cpp).
TensorType declared(Types, const Node&);  // the node's declared type, f32
TensorType fed(Types, const Node&);       // the node's declared type, f32 or i32 (ids, labels)
TensorType matmul(Types, const Node&);
TensorType binary(Types, const Node&);
TensorType unary(Types, const Node&);
TensorType reduce(Types, const Node&);
TensorType along_axis(Types, const Node&);
TensorType layernorm(Types, const Node&);
TensorType transpose(Types, const Node&);
TensorType reshape(Types, const Node&);
TensorType broadcast(Types, const Node&);
TensorType slice(Types, const Node&);
TensorType concat(Types, const Node&);
TensorType gather(Types, const Node&);
TensorType causal_mask(Types, const Node&);
TensorType cross_entropy(Types, const Node&);
TensorType same_as_first(Types, const Node&);  // all operands f32 of the first one's shape
TensorType layernorm_grad(Types, const Node&);
TensorType layernorm_scale_grad(Types, const Node&);
TensorType reduce_max_grad(Types, const Node&);
TensorType pad(Types, const Node&);
TensorType scatter_add(Types, const Node&);
TensorType cross_entropy_grad(Types, const Node&);
TensorType sgd_step(Types, const Node&);    // p, v, then the scalar lr
TensorType adamw_step(Types, const Node&);  // p, m, v, then the scalars lr and step
TensorType redistributed(Types, const Node&);   // the declared local shape, the operand's dtype

// Gradient rules (gradients.cpp).
using Grads = std::vector<ValueId>;
Grads d_matmul(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_add(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_sub(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_mul(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_div(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_neg(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_exp(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_log(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_sqrt(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_rsqrt(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_tanh(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_relu(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_gelu(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_reduce_sum(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_reduce_mean(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_reduce_max(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_softmax(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_log_softmax(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_layernorm(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_transpose(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_reshape(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_broadcast(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_slice(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_concat(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_gather(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_causal_mask(Builder&, const Node&, ValueId y, ValueId dy);
Grads d_cross_entropy(Builder&, const Node&, ValueId y, ValueId dy);

// Sharding rules (sharding_rules.cpp).
ShardingRule elementwise(Types, const Node&);
ShardingRule along_axis_rule(Types, const Node&);
ShardingRule last_axis_whole(Types, const Node&);
ShardingRule causal_mask_rule(Types, const Node&);
ShardingRule matmul_rule(Types, const Node&);
ShardingRule reduce_rule(Types, const Node&);
ShardingRule reduce_max_rule(Types, const Node&);
ShardingRule reduce_max_grad_rule(Types, const Node&);
ShardingRule layernorm_rule(Types, const Node&);
ShardingRule layernorm_scale_grad_rule(Types, const Node&);
ShardingRule transpose_rule(Types, const Node&);
ShardingRule reshape_rule(Types, const Node&);
ShardingRule resize_rule(Types, const Node&);
ShardingRule concat_rule(Types, const Node&);
ShardingRule gather_rule(Types, const Node&);
ShardingRule scatter_add_rule(Types, const Node&);
ShardingRule cross_entropy_rule(Types, const Node&);

// Attribute localisers (OpTraits::localize, sharding_rules.cpp).
void local_shape(Node& local, const Node& global);  // `shape` is the local result's shape
void local_slice(Node& local, const Node& global);  // a split dimension is sliced whole

}  // namespace spmd::ir::rules
