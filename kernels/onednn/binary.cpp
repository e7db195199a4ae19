// add, sub, mul, div with numpy broadcasting. dnnl::binary broadcasts only its second
// operand, so it runs when the first operand has the result's shape (or, for add and mul,
// the second does and the operands swap); its problem is first reduced to the fewest axes
// (e.g. [B,S,D] + [D] becomes [B*S,D] + [1,D]). Otherwise, or when oneDNN would fall back to
// its naive loops, a strided OpenMP loop does it.
#include <functional>

#include "kernels/onednn/context.h"
#include "kernels/onednn/loops.h"

namespace spmd::kernels::cpu {
namespace {

// `operand` padded with leading 1s to `rank` axes.
ir::Shape padded(const ir::Shape& operand, size_t rank) {
  ir::Shape s(rank - operand.size(), 1);
  s.insert(s.end(), operand.begin(), operand.end());
  return s;
}

// The result shape and the broadcast operand's shape on the fewest axes: size-1 result axes
// dropped, and adjacent axes merged where the operand is broadcast along both or neither.
std::pair<ir::Shape, ir::Shape> merged_axes(const ir::Shape& out, const ir::Shape& operand) {
  ir::Shape merged_out, merged_operand;
  int last_kind = -1;  // 1: operand broadcast along the axis, 0: not
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 1) continue;
    const int kind = operand[d] == 1 ? 1 : 0;
    if (kind == last_kind) {
      merged_out.back() *= out[d];
      merged_operand.back() *= operand[d];
    } else {
      merged_out.push_back(out[d]);
      merged_operand.push_back(operand[d]);
    }
    last_kind = kind;
  }
  if (merged_out.empty()) merged_out = merged_operand = {1};
  return {merged_out, merged_operand};
}

// out = a op b, run by oneDNN; false when it cannot (or only naively).
bool run_onednn(CpuContext& ctx, dnnl::algorithm alg, const ir::Node& node, const TensorRef& a,
                const TensorRef& b, const TensorRef& out) {
  const ir::Shape& shape = out.type.shape;
  if (padded(a.type.shape, shape.size()) != shape) return false;
  if (out.data == b.data) return false;  // oneDNN runs in place only over its first source
  const auto [dims, operand] = merged_axes(shape, padded(b.type.shape, shape.size()));
  const Primitive& prim = ctx.primitive(Key(node.op).add(dims).add(operand), [&] {
    return primitive_or_none([&] {
      const dnnl::binary::desc desc(alg, plain_desc(dims), plain_desc(operand),
                                    plain_desc(dims));
      const dnnl::binary::primitive_desc pd(desc, ctx.engine());
      return make_primitive<dnnl::binary>(pd, {DNNL_ARG_SRC_0, DNNL_ARG_SRC_1, DNNL_ARG_DST});
    });
  });
  if (prim.is_naive()) return false;
  ctx.run(prim, {a.data, b.data, out.data});
  return true;
}

// One run of `n` results: o is contiguous, a and b step by stride[1] and stride[2], each 1
// or 0 (broadcast along the run).
template <typename Op>
void binary_run(float* o, const float* a, const float* b, int64_t n, const Offsets& stride) {
  Op op;
  if (stride[1] == 1 && stride[2] == 1) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) o[j] = op(a[j], b[j]);
  } else if (stride[1] == 1 && stride[2] == 0) {
    const float bv = *b;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) o[j] = op(a[j], bv);
  } else if (stride[1] == 0 && stride[2] == 1) {
    const float av = *a;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) o[j] = op(av, b[j]);
  } else {
    for (int64_t j = 0; j < n; ++j) o[j] = op(a[j * stride[1]], b[j * stride[2]]);
  }
}

template <typename Op>
void run_loop(const TensorRef& a, const TensorRef& b, const TensorRef& out) {
  const ir::Shape& shape = out.type.shape;
  const StridedLoop loop =
      strided_loop(shape,
                   {contiguous_strides(shape), broadcast_strides(a.type.shape, shape),
                    broadcast_strides(b.type.shape, shape)},
                   {0, 0, 0});
  const Offsets stride = loop.run_stride();
  for_each_run(loop, [&](const Offsets& at, int64_t n) {
    binary_run<Op>(out.f32() + at[0], a.f32() + at[1], b.f32() + at[2], n, stride);
  });
}

template <typename Op, dnnl::algorithm kAlg, bool kCommutes>
void binary(CpuContext& ctx, const ir::Node& node, std::span<const TensorRef> in,
            const TensorRef& out) {
  if (run_onednn(ctx, kAlg, node, in[0], in[1], out)) return;
  if (kCommutes && run_onednn(ctx, kAlg, node, in[1], in[0], out)) return;
  run_loop<Op>(in[0], in[1], out);
}

}  // namespace

void add_binary_kernels(KernelTable& table) {
  using dnnl::algorithm;
  table["add"] = binary<std::plus<float>, algorithm::binary_add, true>;
  table["sub"] = binary<std::minus<float>, algorithm::binary_sub, false>;
  table["mul"] = binary<std::multiplies<float>, algorithm::binary_mul, true>;
  table["div"] = binary<std::divides<float>, algorithm::binary_div, false>;
}

}  // namespace spmd::kernels::cpu
