// Shape rules: each op's result type from its operands' types and its attributes. Every
// mismatch is an spmd::Error naming the op and the offending shapes.
#include <algorithm>
#include <set>

#include "common/error.h"
#include "ir/op_rules.h"

namespace spmd::ir::rules {
namespace {

[[noreturn]] void fail(const Node& n, const std::string& what) { throw Error(n.op + ": " + what); }

void require_f32(Types in, const Node& n) {
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i].dtype != DType::f32) fail(n, "operand " + std::to_string(i) + " must be f32");
  }
}

void require_same_shape(Types in, const Node& n, size_t a, size_t b) {
  if (in[a].shape != in[b].shape) {
    fail(n, "operands " + std::to_string(a) + " and " + std::to_string(b) +
                " must have the same shape, got " + to_string(in[a].shape) + " and " +
                to_string(in[b].shape));
  }
}

void require_scalar(Types in, const Node& n, size_t i) {
  if (in[i].rank() != 0) fail(n, "operand " + std::to_string(i) + " must be a scalar");
}

std::vector<int> normalized_axes(const Node& n, int rank) {
  std::set<int> seen;
  for (int64_t a : n.attrs.ints("axes")) {
    if (!seen.insert(normalize_axis(a, rank)).second) fail(n, "repeated axis in 'axes'");
  }
  return {seen.begin(), seen.end()};
}

}  // namespace

TensorType fed(Types, const Node& n) {
  for (int64_t d : n.type.shape) {
    if (d <= 0) fail(n, "dimensions must be positive, got " + to_string(n.type.shape));
  }
  return n.type;
}

TensorType declared(Types in, const Node& n) {
  fed(in, n);
  if (n.type.dtype != DType::f32) fail(n, "must be f32");
  return n.type;
}

TensorType matmul(Types in, const Node& n) {
  require_f32(in, n);
  const Shape &a = in[0].shape, &b = in[1].shape;
  if (a.size() < 2 || b.size() < 2) fail(n, "operands must have rank >= 2");
  bool ta = n.attrs.i("transpose_a", 0), tb = n.attrs.i("transpose_b", 0);
  int64_t m = ta ? a[a.size() - 1] : a[a.size() - 2];
  int64_t ka = ta ? a[a.size() - 2] : a[a.size() - 1];
  int64_t kb = tb ? b[b.size() - 1] : b[b.size() - 2];
  int64_t nn = tb ? b[b.size() - 2] : b[b.size() - 1];
  if (ka != kb) {
    fail(n, "contracting dimensions differ: " + to_string(a) + " x " + to_string(b));
  }
  Shape batch_a(a.begin(), a.end() - 2), batch_b(b.begin(), b.end() - 2);
  if (!batch_a.empty() && !batch_b.empty() && batch_a != batch_b) {
    fail(n, "batch dimensions differ: " + to_string(a) + " x " + to_string(b));
  }
  Shape out = batch_a.empty() ? batch_b : batch_a;
  out.push_back(m);
  out.push_back(nn);
  return {DType::f32, out};
}

TensorType binary(Types in, const Node& n) {
  require_f32(in, n);
  try {
    return {DType::f32, broadcast_shapes(in[0].shape, in[1].shape)};
  } catch (const Error& e) {
    fail(n, e.what());
  }
}

TensorType unary(Types in, const Node& n) {
  require_f32(in, n);
  return in[0];
}

TensorType reduce(Types in, const Node& n) {
  require_f32(in, n);
  std::vector<int> axes = normalized_axes(n, in[0].rank());
  bool keep = n.attrs.i("keepdims", 0);
  Shape out;
  for (int i = 0; i < in[0].rank(); ++i) {
    bool reduced = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (!reduced) out.push_back(in[0].shape[i]);
    else if (keep) out.push_back(1);
  }
  return {DType::f32, out};
}

TensorType along_axis(Types in, const Node& n) {
  require_f32(in, n);
  normalize_axis(n.attrs.i("axis"), in[0].rank());
  for (size_t i = 1; i < in.size(); ++i) require_same_shape(in, n, 0, i);
  return in[0];
}

TensorType layernorm(Types in, const Node& n) {
  require_f32(in, n);
  if (in[0].rank() < 1) fail(n, "input must have rank >= 1");
  Shape d{in[0].shape.back()};
  if (in[1].shape != d || in[2].shape != d) {
    fail(n, "scale and bias must be " + to_string(d) + ", got " + to_string(in[1].shape) +
                " and " + to_string(in[2].shape));
  }
  return in[0];
}

TensorType transpose(Types in, const Node& n) {
  const auto& perm = n.attrs.ints("perm");
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i] != static_cast<int64_t>(i)) fail(n, "'perm' is not a permutation");
  }
  if (static_cast<int>(perm.size()) != in[0].rank()) fail(n, "'perm' length differs from rank");
  Shape out;
  for (int64_t p : perm) out.push_back(in[0].shape[p]);
  return {in[0].dtype, out};
}

TensorType reshape(Types in, const Node& n) {
  const Shape& shape = n.attrs.ints("shape");
  if (numel(shape) != in[0].numel()) {
    fail(n, "cannot reshape " + to_string(in[0].shape) + " to " + to_string(shape));
  }
  return {in[0].dtype, shape};
}

TensorType broadcast(Types in, const Node& n) {
  const Shape& shape = n.attrs.ints("shape");
  Shape out;
  try {
    out = broadcast_shapes(in[0].shape, shape);
  } catch (const Error& e) {
    fail(n, e.what());
  }
  if (out != shape) fail(n, "cannot broadcast " + to_string(in[0].shape) + " to " + to_string(shape));
  return {in[0].dtype, shape};
}

TensorType slice(Types in, const Node& n) {
  const auto &begin = n.attrs.ints("begin"), &end = n.attrs.ints("end");
  const Shape& s = in[0].shape;
  if (begin.size() != s.size() || end.size() != s.size()) fail(n, "'begin' and 'end' need one entry per axis");
  Shape out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (begin[i] < 0 || end[i] > s[i] || begin[i] >= end[i]) {
      fail(n, "bad range [" + std::to_string(begin[i]) + ", " + std::to_string(end[i]) +
                  ") on axis " + std::to_string(i) + " of " + to_string(s));
    }
    out.push_back(end[i] - begin[i]);
  }
  return {in[0].dtype, out};
}

TensorType concat(Types in, const Node& n) {
  if (in.empty()) fail(n, "needs at least one operand");
  int axis = normalize_axis(n.attrs.i("axis"), in[0].rank());
  Shape out = in[0].shape;
  for (size_t i = 1; i < in.size(); ++i) {
    Shape s = in[i].shape;
    if (s.size() != out.size() || in[i].dtype != in[0].dtype) fail(n, "operands differ in rank or dtype");
    for (size_t d = 0; d < s.size(); ++d) {
      if (static_cast<int>(d) != axis && s[d] != out[d]) fail(n, "operands differ off the concat axis");
    }
    out[axis] += s[axis];
  }
  return {in[0].dtype, out};
}

TensorType gather(Types in, const Node& n) {
  if (in[0].dtype != DType::f32 || in[0].rank() != 2) fail(n, "table must be f32[rows,cols]");
  if (in[1].dtype != DType::i32) fail(n, "ids must be i32");
  Shape out = in[1].shape;
  out.push_back(in[0].shape[1]);
  return {DType::f32, out};
}

TensorType causal_mask(Types in, const Node& n) {
  require_f32(in, n);
  const Shape& s = in[0].shape;
  if (s.size() < 2 || s[s.size() - 1] != s[s.size() - 2]) fail(n, "needs [...,S,S], got " + to_string(s));
  return in[0];
}

TensorType cross_entropy(Types in, const Node& n) {
  if (in[0].dtype != DType::f32 || in[1].dtype != DType::i32) fail(n, "needs f32 logits and i32 labels");
  Shape lead(in[0].shape.begin(), in[0].shape.end() - 1);
  if (in[0].rank() < 1 || lead != in[1].shape) {
    fail(n, "logits " + to_string(in[0].shape) + " do not match labels " + to_string(in[1].shape));
  }
  return {DType::f32, lead};
}

TensorType same_as_first(Types in, const Node& n) {
  require_f32(in, n);
  for (size_t i = 1; i < in.size(); ++i) require_same_shape(in, n, 0, i);
  return in[0];
}

TensorType layernorm_grad(Types in, const Node& n) {
  require_f32(in, n);
  require_same_shape(in, n, 0, 2);
  if (in[1].shape != Shape{in[0].shape.back()}) fail(n, "scale must match the last axis");
  return in[0];
}

TensorType layernorm_scale_grad(Types in, const Node& n) {
  require_f32(in, n);
  require_same_shape(in, n, 0, 1);
  return {DType::f32, {in[0].shape.back()}};
}

TensorType reduce_max_grad(Types in, const Node& n) {
  require_f32(in, n);
  require_same_shape(in, n, 1, 2);
  TensorType y = reduce(in.subspan(0, 1), n);
  if (y.shape != in[1].shape) fail(n, "max and its gradient do not match the reduction");
  return in[0];
}

TensorType pad(Types in, const Node& n) {
  const auto& begin = n.attrs.ints("begin");
  const Shape &s = in[0].shape, &out = n.type.shape;
  if (begin.size() != s.size() || out.size() != s.size()) fail(n, "'begin' and the type need one entry per axis");
  for (size_t i = 0; i < s.size(); ++i) {
    if (begin[i] < 0 || begin[i] + s[i] > out[i]) fail(n, "operand does not fit at 'begin'");
  }
  return {in[0].dtype, out};
}

TensorType scatter_add(Types in, const Node& n) {
  if (in[0].dtype != DType::i32 || in[1].dtype != DType::f32) fail(n, "needs i32 ids and f32 values");
  Shape lead(in[1].shape.begin(), in[1].shape.end() - 1);
  if (in[1].rank() < 1 || lead != in[0].shape) fail(n, "values do not match ids");
  int64_t rows = n.attrs.i("rows");
  if (rows <= 0) fail(n, "'rows' must be positive");
  return {DType::f32, {rows, in[1].shape.back()}};
}

TensorType cross_entropy_grad(Types in, const Node& n) {
  TensorType loss = cross_entropy(in.subspan(0, 2), n);
  if (in[2].shape != loss.shape) fail(n, "loss gradient does not match labels");
  return in[0];
}

namespace {

// The first `tensors` operands of one shape (param and moments), then scalars.
TensorType optimizer_step(Types in, const Node& n, size_t tensors) {
  require_f32(in, n);
  for (size_t i = 1; i < tensors; ++i) require_same_shape(in, n, 0, i);
  for (size_t i = tensors; i < in.size(); ++i) require_scalar(in, n, i);
  return in[0];
}

}  // namespace

TensorType sgd_step(Types in, const Node& n) { return optimizer_step(in, n, 2); }
TensorType adamw_step(Types in, const Node& n) { return optimizer_step(in, n, 3); }

TensorType redistributed(Types in, const Node& n) {
  for (int64_t d : n.type.shape) {
    if (d <= 0) fail(n, "dimensions must be positive");
  }
  return {in[0].dtype, n.type.shape};
}

}  // namespace spmd::ir::rules
