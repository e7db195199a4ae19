// Gradient rules: for each differentiable op, the ops that compute the gradient of every
// operand from the gradient `dy` of its result `y` (reverse-mode, one rule per op).
#include <numeric>

#include "ir/op_rules.h"

namespace spmd::ir::rules {
namespace {

ValueId in(const Node& n, size_t i) { return n.inputs[i]; }

Attrs copy_attrs(const Node& n, std::initializer_list<const char*> keys) {
  Attrs a;
  for (const char* k : keys) {
    if (n.attrs.has(k)) a.set(k, n.attrs.all().at(k));
  }
  return a;
}

// Sums a batched matmul gradient over leading axes down to a rank-2 operand's shape.
ValueId sum_to(Builder& b, ValueId g, const Shape& shape) {
  if (b.shape(g).size() == shape.size()) return g;
  std::vector<int64_t> axes(b.shape(g).size() - shape.size());
  std::iota(axes.begin(), axes.end(), 0);
  return b.reduce_sum(g, axes);
}

// Rows of a [...,r,c] tensor flattened into [prod*r, c].
ValueId flatten_rows(Builder& b, ValueId x) {
  Shape s = b.shape(x);
  return b.reshape(x, {numel(s) / s.back(), s.back()});
}

}  // namespace

Grads d_matmul(Builder& b, const Node& n, ValueId, ValueId dy) {
  ValueId A = in(n, 0), B = in(n, 1);
  bool ta = n.attrs.i("transpose_a", 0), tb = n.attrs.i("transpose_b", 0);
  Shape sa = b.shape(A), sb = b.shape(B);
  ValueId da = ta ? (tb ? b.matmul(B, dy, true, true) : b.matmul(B, dy, false, true))
                  : (tb ? b.matmul(dy, B, false, false) : b.matmul(dy, B, false, true));
  ValueId db;
  if (!ta && sb.size() == 2 && sa.size() > 2) {
    // A weight shared by every batch: one GEMM over all rows instead of a batched GEMM and a sum.
    ValueId a2 = flatten_rows(b, A), dy2 = flatten_rows(b, dy);
    db = tb ? b.matmul(dy2, a2, true, false) : b.matmul(a2, dy2, true, false);
  } else {
    db = ta ? (tb ? b.matmul(dy, A, true, true) : b.matmul(A, dy, false, false))
            : (tb ? b.matmul(dy, A, true, false) : b.matmul(A, dy, true, false));
  }
  return {sum_to(b, da, sa), sum_to(b, db, sb)};
}

Grads d_add(Builder& b, const Node& n, ValueId, ValueId dy) {
  return {b.unbroadcast(dy, b.shape(in(n, 0))), b.unbroadcast(dy, b.shape(in(n, 1)))};
}

Grads d_sub(Builder& b, const Node& n, ValueId, ValueId dy) {
  return {b.unbroadcast(dy, b.shape(in(n, 0))), b.unbroadcast(b.neg(dy), b.shape(in(n, 1)))};
}

Grads d_mul(Builder& b, const Node& n, ValueId, ValueId dy) {
  return {b.unbroadcast(b.mul(dy, in(n, 1)), b.shape(in(n, 0))),
          b.unbroadcast(b.mul(dy, in(n, 0)), b.shape(in(n, 1)))};
}

Grads d_div(Builder& b, const Node& n, ValueId y, ValueId dy) {
  // y = a / b: da = dy / b, db = -dy * a / b^2 = -(dy / b) * y.
  ValueId t = b.div(dy, in(n, 1));
  return {b.unbroadcast(t, b.shape(in(n, 0))), b.unbroadcast(b.neg(b.mul(t, y)), b.shape(in(n, 1)))};
}

Grads d_neg(Builder& b, const Node&, ValueId, ValueId dy) { return {b.neg(dy)}; }
Grads d_exp(Builder& b, const Node&, ValueId y, ValueId dy) { return {b.mul(dy, y)}; }
Grads d_log(Builder& b, const Node& n, ValueId, ValueId dy) { return {b.div(dy, in(n, 0))}; }
Grads d_sqrt(Builder& b, const Node&, ValueId y, ValueId dy) { return {b.div(dy, b.scale(y, 2.0))}; }

Grads d_rsqrt(Builder& b, const Node&, ValueId y, ValueId dy) {
  // d/dx x^-1/2 = -1/2 x^-3/2 = -y^3 / 2.
  return {b.mul(dy, b.scale(b.mul(y, b.mul(y, y)), -0.5))};
}

Grads d_tanh(Builder& b, const Node&, ValueId y, ValueId dy) {
  return {b.mul(dy, b.sub(b.constant(1.0), b.mul(y, y)))};
}

Grads d_relu(Builder& b, const Node& n, ValueId, ValueId dy) { return {b.op("relu_grad", {in(n, 0), dy})}; }
Grads d_gelu(Builder& b, const Node& n, ValueId, ValueId dy) { return {b.op("gelu_grad", {in(n, 0), dy})}; }

// The reduced result's gradient spread back over the reduced axes.
static ValueId spread(Builder& b, const Node& n, ValueId dy) {
  Shape x = b.shape(in(n, 0));
  Shape kept = x;
  for (int64_t a : n.attrs.ints("axes")) kept[normalize_axis(a, static_cast<int>(x.size()))] = 1;
  return b.broadcast(b.reshape(dy, kept), x);
}

Grads d_reduce_sum(Builder& b, const Node& n, ValueId, ValueId dy) { return {spread(b, n, dy)}; }

Grads d_reduce_mean(Builder& b, const Node& n, ValueId y, ValueId dy) {
  double count = static_cast<double>(b.type(in(n, 0)).numel()) / static_cast<double>(b.type(y).numel());
  return {spread(b, n, b.scale(dy, 1.0 / count))};
}

Grads d_reduce_max(Builder& b, const Node& n, ValueId y, ValueId dy) {
  return {b.op("reduce_max_grad", {in(n, 0), y, dy}, copy_attrs(n, {"axes", "keepdims"}))};
}

Grads d_softmax(Builder& b, const Node& n, ValueId y, ValueId dy) {
  return {b.op("softmax_grad", {y, dy}, copy_attrs(n, {"axis"}))};
}

Grads d_log_softmax(Builder& b, const Node& n, ValueId y, ValueId dy) {
  return {b.op("log_softmax_grad", {y, dy}, copy_attrs(n, {"axis"}))};
}

Grads d_layernorm(Builder& b, const Node& n, ValueId, ValueId dy) {
  Attrs eps = copy_attrs(n, {"eps"});
  ValueId x = in(n, 0);
  ValueId dx = b.op("layernorm_grad", {x, in(n, 1), dy}, eps);
  ValueId dscale = b.op("layernorm_scale_grad", {x, dy}, eps);
  return {dx, dscale, b.unbroadcast(dy, b.shape(in(n, 2)))};
}

Grads d_transpose(Builder& b, const Node& n, ValueId, ValueId dy) {
  const auto& perm = n.attrs.ints("perm");
  std::vector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int64_t>(i);
  return {b.transpose(dy, inverse)};
}

Grads d_reshape(Builder& b, const Node& n, ValueId, ValueId dy) { return {b.reshape(dy, b.shape(in(n, 0)))}; }
Grads d_broadcast(Builder& b, const Node& n, ValueId, ValueId dy) { return {b.unbroadcast(dy, b.shape(in(n, 0)))}; }

Grads d_slice(Builder& b, const Node& n, ValueId, ValueId dy) {
  return {b.typed_op("pad", {dy}, copy_attrs(n, {"begin"}), b.type(in(n, 0)))};
}

Grads d_concat(Builder& b, const Node& n, ValueId, ValueId dy) {
  int axis = static_cast<int>(n.attrs.i("axis"));
  Shape full = b.shape(dy);
  Grads grads;
  int64_t offset = 0;
  for (ValueId x : n.inputs) {
    std::vector<int64_t> begin(full.size(), 0), end = full;
    begin[axis] = offset;
    offset += b.shape(x)[axis];
    end[axis] = offset;
    grads.push_back(b.slice(dy, begin, end));
  }
  return grads;
}

Grads d_gather(Builder& b, const Node& n, ValueId, ValueId dy) {
  Attrs a;
  a.set("rows", b.shape(in(n, 0))[0]);
  return {b.op("scatter_add", {in(n, 1), dy}, a), -1};
}

Grads d_causal_mask(Builder& b, const Node&, ValueId, ValueId dy) { return {b.causal_mask(dy, 0.0)}; }

Grads d_cross_entropy(Builder& b, const Node& n, ValueId, ValueId dy) {
  return {b.op("cross_entropy_grad", {in(n, 0), in(n, 1), dy}), -1};
}

}  // namespace spmd::ir::rules
