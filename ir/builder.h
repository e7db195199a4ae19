// Builds a Graph op by op, inferring each result's type from the op's shape rule. Reads like
// the model it builds:
//   Builder b(g);
//   auto x = b.input("features", {DType::f32, {64, 32}}, "features");
//   auto w = b.param("layer0.w", {32, 512});
//   auto h = b.relu(b.matmul(x, w));
// Each call appends one node (cost: the shape rule, O(rank)).
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"

namespace spmd::ir {

class Builder {
 public:
  explicit Builder(Graph& graph) : g_(graph) {}

  Graph& graph() { return g_; }
  // By value: appending a node may move the graph's nodes.
  TensorType type(ValueId v) const { return g_.type(v); }
  Shape shape(ValueId v) const { return g_.type(v).shape; }

  // Appends op `op` on `operands`; the result type comes from the op's shape rule.
  ValueId op(const std::string& op, std::vector<ValueId> operands, Attrs attrs = {},
             std::string name = "");
  // Appends a node whose type is given (sources, pad, reshape), checked by the shape rule.
  ValueId typed_op(const std::string& op, std::vector<ValueId> operands, Attrs attrs,
                   TensorType type, std::string name = "");

  // Sources.
  ValueId input(const std::string& name, TensorType type, const std::string& feed);
  ValueId param(const std::string& name, Shape shape, const std::string& init = "normal",
                double std = 0.02);
  ValueId state(const std::string& name, Shape shape);
  ValueId constant(double value, Shape shape = {});

  // Compute ops (see ir/ops.h for their meaning).
  ValueId matmul(ValueId a, ValueId b, bool transpose_a = false, bool transpose_b = false);
  ValueId add(ValueId a, ValueId b) { return op("add", {a, b}); }
  ValueId sub(ValueId a, ValueId b) { return op("sub", {a, b}); }
  ValueId mul(ValueId a, ValueId b) { return op("mul", {a, b}); }
  ValueId div(ValueId a, ValueId b) { return op("div", {a, b}); }
  ValueId scale(ValueId a, double factor) { return mul(a, constant(factor)); }
  ValueId neg(ValueId a) { return op("neg", {a}); }
  ValueId exp(ValueId a) { return op("exp", {a}); }
  ValueId log(ValueId a) { return op("log", {a}); }
  ValueId sqrt(ValueId a) { return op("sqrt", {a}); }
  ValueId rsqrt(ValueId a) { return op("rsqrt", {a}); }
  ValueId tanh(ValueId a) { return op("tanh", {a}); }
  ValueId relu(ValueId a) { return op("relu", {a}); }
  ValueId gelu(ValueId a) { return op("gelu", {a}); }
  ValueId reduce(const std::string& kind, ValueId x, std::vector<int64_t> axes,
                 bool keepdims = false);  // kind: sum, mean, max
  ValueId reduce_sum(ValueId x, std::vector<int64_t> axes, bool keepdims = false) {
    return reduce("sum", x, std::move(axes), keepdims);
  }
  ValueId reduce_mean(ValueId x, std::vector<int64_t> axes, bool keepdims = false) {
    return reduce("mean", x, std::move(axes), keepdims);
  }
  ValueId softmax(ValueId x, int64_t axis = -1);
  ValueId log_softmax(ValueId x, int64_t axis = -1);
  ValueId layernorm(ValueId x, ValueId scale, ValueId bias, double eps = 1e-5);
  ValueId transpose(ValueId x, std::vector<int64_t> perm);
  ValueId reshape(ValueId x, Shape shape);
  ValueId broadcast(ValueId x, Shape shape);
  ValueId slice(ValueId x, std::vector<int64_t> begin, std::vector<int64_t> end);
  ValueId concat(std::vector<ValueId> xs, int64_t axis);
  ValueId gather(ValueId table, ValueId ids) { return op("gather", {table, ids}); }
  ValueId causal_mask(ValueId x, double fill);
  ValueId cross_entropy(ValueId logits, ValueId labels) {
    return op("cross_entropy", {logits, labels});
  }

  // Sums `dy` down to `shape` over the axes that broadcasting expanded (the gradient of a
  // broadcast operand); returns `dy` itself when the shapes already agree.
  ValueId unbroadcast(ValueId dy, Shape shape);
  // a + b where either may be -1 (absent): used to accumulate gradients.
  ValueId accumulate(ValueId a, ValueId b);

 private:
  Graph& g_;
};

}  // namespace spmd::ir
