#include "ir/builder.h"

#include "common/error.h"
#include "ir/ops.h"

namespace spmd::ir {

ValueId Builder::op(const std::string& op, std::vector<ValueId> operands, Attrs attrs,
                    std::string name) {
  return typed_op(op, std::move(operands), std::move(attrs), TensorType{}, std::move(name));
}

ValueId Builder::typed_op(const std::string& op, std::vector<ValueId> operands, Attrs attrs,
                          TensorType type, std::string name) {
  const OpDef& def = op_def(op);
  Node node{op, std::move(operands), std::move(attrs), std::move(type), std::move(name)};
  std::vector<TensorType> types;
  for (ValueId v : node.inputs) types.push_back(g_.type(v));
  if (def.arity >= 0 && static_cast<int>(types.size()) != def.arity) {
    throw Error(op + ": takes " + std::to_string(def.arity) + " operands, got " +
                std::to_string(types.size()));
  }
  node.type = def.infer(types, node);
  g_.nodes.push_back(std::move(node));
  return static_cast<ValueId>(g_.nodes.size() - 1);
}

ValueId Builder::input(const std::string& name, TensorType type, const std::string& feed) {
  Attrs a;
  a.set("feed", feed);
  return typed_op("input", {}, std::move(a), std::move(type), name);
}

ValueId Builder::param(const std::string& name, Shape shape, const std::string& init,
                       double std) {
  Attrs a;
  a.set("init", init);
  if (init == "normal") a.set("std", std);
  return typed_op("param", {}, std::move(a), {DType::f32, std::move(shape)}, name);
}

ValueId Builder::state(const std::string& name, Shape shape) {
  Attrs a;
  a.set("init", std::string("zeros"));
  return typed_op("state", {}, std::move(a), {DType::f32, std::move(shape)}, name);
}

ValueId Builder::constant(double value, Shape shape) {
  Attrs a;
  a.set("value", value);
  return typed_op("constant", {}, std::move(a), {DType::f32, std::move(shape)});
}

ValueId Builder::matmul(ValueId a, ValueId b, bool transpose_a, bool transpose_b) {
  Attrs attrs;
  if (transpose_a) attrs.set("transpose_a", int64_t{1});
  if (transpose_b) attrs.set("transpose_b", int64_t{1});
  return op("matmul", {a, b}, std::move(attrs));
}

ValueId Builder::reduce(const std::string& kind, ValueId x, std::vector<int64_t> axes,
                        bool keepdims) {
  Attrs a;
  a.set("axes", std::move(axes));
  a.set("keepdims", int64_t{keepdims});
  return op("reduce_" + kind, {x}, std::move(a));
}

ValueId Builder::softmax(ValueId x, int64_t axis) {
  Attrs a;
  a.set("axis", int64_t{normalize_axis(axis, type(x).rank())});
  return op("softmax", {x}, std::move(a));
}

ValueId Builder::log_softmax(ValueId x, int64_t axis) {
  Attrs a;
  a.set("axis", int64_t{normalize_axis(axis, type(x).rank())});
  return op("log_softmax", {x}, std::move(a));
}

ValueId Builder::layernorm(ValueId x, ValueId scale, ValueId bias, double eps) {
  Attrs a;
  a.set("eps", eps);
  return op("layernorm", {x, scale, bias}, std::move(a));
}

ValueId Builder::transpose(ValueId x, std::vector<int64_t> perm) {
  Attrs a;
  a.set("perm", std::move(perm));
  return op("transpose", {x}, std::move(a));
}

ValueId Builder::reshape(ValueId x, Shape shape) {
  if (shape == this->shape(x)) return x;
  Attrs a;
  a.set("shape", shape);
  return op("reshape", {x}, std::move(a));
}

ValueId Builder::broadcast(ValueId x, Shape shape) {
  if (shape == this->shape(x)) return x;
  Attrs a;
  a.set("shape", std::move(shape));
  return op("broadcast", {x}, std::move(a));
}

ValueId Builder::slice(ValueId x, std::vector<int64_t> begin, std::vector<int64_t> end) {
  Attrs a;
  a.set("begin", std::move(begin));
  a.set("end", std::move(end));
  return op("slice", {x}, std::move(a));
}

ValueId Builder::concat(std::vector<ValueId> xs, int64_t axis) {
  Attrs a;
  a.set("axis", int64_t{normalize_axis(axis, type(xs.at(0)).rank())});
  return op("concat", std::move(xs), std::move(a));
}

ValueId Builder::causal_mask(ValueId x, double fill) {
  Attrs a;
  a.set("fill", fill);
  return op("causal_mask", {x}, std::move(a));
}

ValueId Builder::unbroadcast(ValueId dy, Shape shape) {
  Shape from = this->shape(dy);
  if (from == shape) return dy;
  std::vector<int64_t> axes;
  size_t lead = from.size() - shape.size();
  for (size_t i = 0; i < from.size(); ++i) {
    if (i < lead || (shape[i - lead] == 1 && from[i] != 1)) axes.push_back(static_cast<int64_t>(i));
  }
  ValueId summed = axes.empty() ? dy : reduce_sum(dy, axes, /*keepdims=*/false);
  return reshape(summed, shape);
}

ValueId Builder::accumulate(ValueId a, ValueId b) {
  if (a < 0) return b;
  if (b < 0) return a;
  return add(a, b);
}

}  // namespace spmd::ir
