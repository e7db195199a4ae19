// layernorm over the last axis: the forward pass through dnnl::layer_normalization_forward
// (inference, with scale and shift), the gradients as row loops. The input is viewed as
// [rows, D].
#include <bit>
#include <cmath>

#include "kernels/onednn/context.h"
#include "kernels/onednn/loops.h"
#include "kernels/onednn/rowsum.h"

namespace spmd::kernels::cpu {
namespace {

struct Rows {
  int64_t count, width;
};

Rows rows_of(const ir::Shape& shape) {
  const int64_t width = shape.back();
  return {ir::numel(shape) / width, width};
}

void layernorm(CpuContext& ctx, const ir::Node& node, std::span<const TensorRef> in,
               const TensorRef& out) {
  const Rows r = rows_of(out.type.shape);
  const auto eps = static_cast<float>(node.attrs.f("eps"));
  Key key("layernorm");
  key.add(r.count).add(r.width).add(std::bit_cast<uint32_t>(eps));
  const Primitive& prim = ctx.primitive(key, [&] {
    const auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    const dnnl::layer_normalization_forward::desc desc(dnnl::prop_kind::forward_inference,
                                                       plain_desc({r.count, r.width}), eps, flags);
    const dnnl::layer_normalization_forward::primitive_desc pd(desc, ctx.engine());
    return make_primitive<dnnl::layer_normalization_forward>(
        pd, {DNNL_ARG_SRC, DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_DST});
  });
  ctx.run(prim, {in[0].data, in[1].data, in[2].data, out.data});
}

// Mean and 1/sqrt(biased variance + eps) of one row.
struct RowStats {
  float mean, rstd;
};

RowStats row_stats(const float* x, int64_t d, float eps) {
  const float mean = lane_sum(d, [&](int64_t j) { return x[j]; }) / static_cast<float>(d);
  const float var =
      lane_sum(d, [&](int64_t j) { return (x[j] - mean) * (x[j] - mean); }) / static_cast<float>(d);
  return {mean, 1.f / std::sqrt(var + eps)};
}

// x, scale, dy -> dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * scale.
void layernorm_grad(CpuContext&, const ir::Node& node, std::span<const TensorRef> in,
                    const TensorRef& out) {
  const Rows r = rows_of(out.type.shape);
  const auto eps = static_cast<float>(node.attrs.f("eps"));
  const float* scale = in[1].f32();
  parallel_chunks(r.count, r.width, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const float* x = in[0].f32() + row * r.width;
      const float* dy = in[2].f32() + row * r.width;
      float* dx = out.f32() + row * r.width;
      const RowStats st = row_stats(x, r.width, eps);
      const float inv_d = 1.f / static_cast<float>(r.width);
      const float mean_g = lane_sum(r.width, [&](int64_t j) { return dy[j] * scale[j]; }) * inv_d;
      const float mean_gx =
          lane_sum(r.width,
                   [&](int64_t j) { return dy[j] * scale[j] * (x[j] - st.mean) * st.rstd; }) *
          inv_d;
#pragma omp simd
      for (int64_t j = 0; j < r.width; ++j) {
        const float xhat = (x[j] - st.mean) * st.rstd;
        dx[j] = st.rstd * (dy[j] * scale[j] - mean_g - xhat * mean_gx);
      }
    }
  });
}

// x, dy -> [D]: sum over rows of dy * xhat. Row statistics first (parallel over rows), then
// each thread owns a block of columns and sums its rows in order.
void layernorm_scale_grad(CpuContext& ctx, const ir::Node& node, std::span<const TensorRef> in,
                          const TensorRef& out) {
  const Rows r = rows_of(in[0].type.shape);
  const auto eps = static_cast<float>(node.attrs.f("eps"));
  float* mean = ctx.scratch(2 * r.count);
  float* rstd = mean + r.count;
  parallel_chunks(r.count, r.width, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const RowStats st = row_stats(in[0].f32() + row * r.width, r.width, eps);
      mean[row] = st.mean;
      rstd[row] = st.rstd;
    }
  });
  float* dscale = out.f32();
  parallel_chunks(r.width, r.count, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) dscale[j] = 0.f;
    for (int64_t row = 0; row < r.count; ++row) {
      const float* x = in[0].f32() + row * r.width;
      const float* dy = in[1].f32() + row * r.width;
#pragma omp simd
      for (int64_t j = j0; j < j1; ++j) dscale[j] += dy[j] * (x[j] - mean[row]) * rstd[row];
    }
  });
}

}  // namespace

void add_normalization_kernels(KernelTable& table) {
  table["layernorm"] = layernorm;
  table["layernorm_grad"] = layernorm_grad;
  table["layernorm_scale_grad"] = layernorm_scale_grad;
}

}  // namespace spmd::kernels::cpu
