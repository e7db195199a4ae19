#include "tests/support/op_cases.h"

#include <functional>
#include <map>
#include <string>

#include "ir/ops.h"

namespace spmd::testing {
namespace {

using ir::Shape;
using Cases = std::vector<OpCase>;

OperandSpec f32(Shape s, double lo = -1, double hi = 1) { return {{ir::DType::f32, std::move(s)}, lo, hi}; }
OperandSpec positive(Shape s) { return f32(std::move(s), 0.1, 4); }
OperandSpec whole(Shape s, double lo, double hi) { return {{ir::DType::f32, std::move(s)}, lo, hi, true}; }
OperandSpec ids(Shape s, int32_t bound) { return {{ir::DType::i32, std::move(s)}, 0, 0, false, bound}; }
ir::TensorType f32_type(Shape s) { return {ir::DType::f32, std::move(s)}; }

ir::Attrs attrs(std::initializer_list<std::pair<const char*, ir::AttrValue>> values) {
  ir::Attrs a;
  for (const auto& [key, value] : values) a.set(key, value);
  return a;
}

using Ints = std::vector<int64_t>;

Cases source(ir::Attrs a) { return {{{}, std::move(a), f32_type({3, 5})}}; }
Cases input() { return source(attrs({{"feed", std::string("x")}})); }
Cases param() { return source(attrs({{"init", std::string("normal")}, {"std", 0.02}})); }
Cases state() { return source(attrs({{"init", std::string("zeros")}})); }
Cases constant() { return source(attrs({{"value", 0.5}})); }

Cases unary(bool positive_domain) {
  auto draw = [&](Shape s) { return positive_domain ? positive(std::move(s)) : f32(std::move(s), -3, 3); };
  return {{{draw({3, 5})}}, {{draw({7})}}, {{draw({})}}};
}

// Same shapes, a trailing bias, the first operand broadcast, both broadcast, a scalar.
Cases binary(double lo_b, double hi_b) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 5}, {3, 5}}, {{2, 3, 5}, {5}}, {{5}, {3, 5}}, {{3, 1}, {1, 5}}, {{3, 5}, {}}};
  Cases cases;
  for (const auto& [a, b] : shapes) cases.push_back({{f32(a), f32(b, lo_b, hi_b)}});
  return cases;
}

Cases matmul() {
  return {{{f32({3, 5}), f32({5, 7})}},
          {{f32({5, 3}), f32({5, 7})}, attrs({{"transpose_a", int64_t{1}}})},
          {{f32({3, 5}), f32({7, 5})}, attrs({{"transpose_b", int64_t{1}}})},
          {{f32({2, 3, 5}), f32({5, 7})}},
          {{f32({2, 3, 5}), f32({2, 7, 5})}, attrs({{"transpose_b", int64_t{1}}})}};
}

Cases reduce() {
  return {{{f32({3, 5, 7})}, attrs({{"axes", Ints{1}}})},
          {{f32({3, 5, 7})}, attrs({{"axes", Ints{0, 2}}, {"keepdims", int64_t{1}}})},
          {{f32({3, 5})}, attrs({{"axes", Ints{-1}}})}};
}

Cases along_axis(double lo, double hi) {
  return {{{f32({3, 5}, lo, hi)}, attrs({{"axis", int64_t{1}}})},
          {{f32({3, 5, 7}, lo, hi)}, attrs({{"axis", int64_t{1}}})}};
}

// y, dy of softmax_grad and log_softmax_grad; y drawn where the forward op leaves it.
Cases along_axis_grad(double lo, double hi) {
  return {{{f32({3, 5}, lo, hi), f32({3, 5})}, attrs({{"axis", int64_t{1}}})},
          {{f32({3, 5, 7}, lo, hi), f32({3, 5, 7})}, attrs({{"axis", int64_t{1}}})}};
}

const ir::Attrs kEps = attrs({{"eps", 1e-5}});

Cases layernorm() {
  return {{{f32({3, 7}), f32({7}), f32({7})}, kEps}, {{f32({2, 3, 7}), f32({7}), f32({7})}, kEps}};
}

// An attention transpose (heads and sequence swapped, rows kept), a matrix's, a rotation,
// and ids (transposes move i32 as well).
Cases shape_ops_transpose() {
  return {{{f32({2, 5, 3, 4})}, attrs({{"perm", Ints{0, 2, 1, 3}}})},
          {{f32({37, 19})}, attrs({{"perm", Ints{1, 0}}})},
          {{f32({3, 5, 7})}, attrs({{"perm", Ints{2, 0, 1}}})},
          {{ids({3, 4}, 11)}, attrs({{"perm", Ints{1, 0}}})}};
}

Cases reshape() {
  return {{{f32({3, 10})}, attrs({{"shape", Ints{3, 2, 5}}})}, {{f32({6, 5})}, attrs({{"shape", Ints{30}}})}};
}

Cases broadcast() {
  return {{{f32({5})}, attrs({{"shape", Ints{3, 5}}})}, {{f32({3, 1})}, attrs({{"shape", Ints{3, 5}}})}};
}

Cases slice() { return {{{f32({5, 7})}, attrs({{"begin", Ints{1, 2}}, {"end", Ints{4, 7}}})}}; }

Cases concat() {
  return {{{f32({3, 2}), f32({3, 5})}, attrs({{"axis", int64_t{1}}})},
          {{f32({1, 5}), f32({3, 5}), f32({2, 5})}, attrs({{"axis", int64_t{0}}})}};
}

Cases gather() { return {{{f32({11, 5}), ids({3, 4}, 11)}}}; }

Cases causal_mask() { return {{{f32({2, 5, 5})}, attrs({{"fill", -1e9}})}}; }

Cases cross_entropy() {
  return {{{f32({3, 7}, -3, 3), ids({3}, 7)}}, {{f32({2, 3, 7}, -3, 3), ids({2, 3}, 7)}}};
}

Cases nonlinearity_grad() { return {{{f32({3, 5}, -3, 3), f32({3, 5})}}, {{f32({7}, -3, 3), f32({7})}}}; }

Cases layernorm_grad() {
  return {{{f32({3, 7}), f32({7}), f32({3, 7})}, kEps}, {{f32({2, 3, 7}), f32({7}), f32({2, 3, 7})}, kEps}};
}

Cases layernorm_scale_grad() {
  return {{{f32({3, 7}), f32({3, 7})}, kEps}, {{f32({2, 3, 7}), f32({2, 3, 7})}, kEps}};
}

// x and y = reduce_max(x) drawn from {0, 1, 2}, so that many x equal their row's y.
Cases reduce_max_grad() {
  return {{{whole({3, 5}, 0, 2), whole({3}, 0, 2), f32({3})}, attrs({{"axes", Ints{1}}})},
          {{whole({3, 5, 7}, 0, 2), whole({3, 1, 7}, 0, 2), f32({3, 1, 7})},
           attrs({{"axes", Ints{1}}, {"keepdims", int64_t{1}}})}};
}

Cases pad() { return {{{f32({3, 5})}, attrs({{"begin", Ints{1, 0}}}), f32_type({6, 5})}}; }

Cases scatter_add() {
  return {{{ids({4}, 7), f32({4, 5})}, attrs({{"rows", int64_t{7}}})},
          {{ids({2, 3}, 7), f32({2, 3, 5})}, attrs({{"rows", int64_t{7}}})}};
}

Cases cross_entropy_grad() { return {{{f32({3, 7}, -3, 3), ids({3}, 7), f32({3})}}}; }

Cases ema() { return {{{f32({3, 5}), f32({3, 5})}, attrs({{"decay", 0.9}, {"gain", 0.1}})}}; }

Cases sgd() { return {{{f32({3, 5}), f32({3, 5}), f32({}, 0.01, 0.1)}}}; }

// Early steps, where the bias corrections matter most.
Cases adamw() {
  const ir::Attrs a = attrs({{"beta1", 0.9}, {"beta2", 0.999}, {"eps", 1e-8}, {"weight_decay", 0.01}});
  return {
      {{f32({3, 5}), f32({3, 5}, -0.1, 0.1), f32({3, 5}, 1e-4, 1e-2), f32({}, 1e-3, 1e-2), whole({}, 1, 5)},
       a}};
}

// A shard of rows of a [4,6] tensor gathered whole (on a mesh of 2).
Cases redistribute() {
  return {{{f32({2, 6})},
           attrs({{"from", std::string("0,-")}, {"to", std::string("-,-")}, {"global", Ints{4, 6}}}),
           f32_type({4, 6})}};
}

const std::map<std::string, std::function<Cases()>, std::less<>>& table() {
  static const std::map<std::string, std::function<Cases()>, std::less<>> cases = {
      {"input", input},
      {"param", param},
      {"state", state},
      {"constant", constant},
      {"matmul", matmul},
      {"add", [] { return binary(-1, 1); }},
      {"sub", [] { return binary(-1, 1); }},
      {"mul", [] { return binary(-1, 1); }},
      {"div", [] { return binary(0.5, 2); }},  // divisors away from 0
      {"neg", [] { return unary(false); }},
      {"exp", [] { return unary(false); }},
      {"log", [] { return unary(true); }},
      {"sqrt", [] { return unary(true); }},
      {"rsqrt", [] { return unary(true); }},
      {"tanh", [] { return unary(false); }},
      {"relu", [] { return unary(false); }},
      {"gelu", [] { return unary(false); }},
      {"reduce_sum", reduce},
      {"reduce_mean", reduce},
      {"reduce_max", reduce},
      {"softmax", [] { return along_axis(-3, 3); }},
      {"log_softmax", [] { return along_axis(-3, 3); }},
      {"layernorm", layernorm},
      {"transpose", shape_ops_transpose},
      {"reshape", reshape},
      {"broadcast", broadcast},
      {"slice", slice},
      {"concat", concat},
      {"gather", gather},
      {"causal_mask", causal_mask},
      {"cross_entropy", cross_entropy},
      {"relu_grad", nonlinearity_grad},
      {"gelu_grad", nonlinearity_grad},
      {"softmax_grad", [] { return along_axis_grad(0, 1); }},       // probabilities
      {"log_softmax_grad", [] { return along_axis_grad(-3, 0); }},  // log-probabilities
      {"layernorm_grad", layernorm_grad},
      {"layernorm_scale_grad", layernorm_scale_grad},
      {"reduce_max_grad", reduce_max_grad},
      {"pad", pad},
      {"scatter_add", scatter_add},
      {"cross_entropy_grad", cross_entropy_grad},
      {"ema", ema},
      {"ema_sq", ema},
      {"sgd", sgd},
      {"adamw", adamw},
      {"redistribute", redistribute},
  };
  return cases;
}

}  // namespace

std::vector<OpCase> op_cases(std::string_view op) {
  auto it = table().find(op);
  return it == table().end() ? std::vector<OpCase>{} : it->second();
}

ir::Node case_node(std::string_view op, const OpCase& c) {
  ir::Node node;
  node.op = std::string(op);
  node.attrs = c.attrs;
  std::vector<ir::TensorType> types;
  for (size_t i = 0; i < c.operands.size(); ++i) {
    node.inputs.push_back(static_cast<ir::ValueId>(i));
    types.push_back(c.operands[i].type);
  }
  if (c.declared) node.type = *c.declared;
  node.type = ir::op_def(op).infer(types, node);
  return node;
}

}  // namespace spmd::testing
