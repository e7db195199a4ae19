// The ops along one line on the CUDA backend: softmax family, layernorm family,
// cross-entropy.
#include "ir/ops.h"
#include "kernels/cuda/context.h"

namespace spmd::kernels::cuda {
namespace {

Lines lines_of(const ir::Node& node, const ir::Shape& shape) {
  const int axis = ir::normalize_axis(node.attrs.i("axis", -1), static_cast<int>(shape.size()));
  Lines l;
  for (int d = 0; d < static_cast<int>(shape.size()); ++d) {
    if (d < axis) l.outer *= shape[d];
    if (d == axis) l.axis = shape[d];
    if (d > axis) l.inner *= shape[d];
  }
  return l;
}

template <bool kLog>
void softmax(CudaContext& ctx, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  launch_softmax(ctx.stream, kLog, in[0].f32(), out.f32(), lines_of(node, out.type.shape));
}

template <bool kLog>
void softmax_grad(CudaContext& ctx, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  launch_softmax_grad(ctx.stream, kLog, in[0].f32(), in[1].f32(), out.f32(), lines_of(node, out.type.shape));
}

float eps_of(const ir::Node& node) { return static_cast<float>(node.attrs.f("eps")); }

void layernorm(CudaContext& ctx, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  const int64_t d = out.type.shape.back();
  launch_layernorm(ctx.stream, in[0].f32(), in[1].f32(), in[2].f32(), out.f32(), out.numel() / d, d, eps_of(node));
}

void layernorm_grad(CudaContext& ctx, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  const int64_t d = out.type.shape.back();
  launch_layernorm_grad(ctx.stream, in[0].f32(), in[1].f32(), in[2].f32(), out.f32(), out.numel() / d, d,
                        eps_of(node));
}

void layernorm_scale_grad(CudaContext& ctx, const ir::Node& node, std::span<const TensorRef> in,
                          const TensorRef& out) {
  const int64_t d = in[0].type.shape.back(), rows = in[0].numel() / d;
  void* scratch = ctx.scratch(static_cast<size_t>(layernorm_scale_grad_scratch_bytes(rows, d)));
  launch_layernorm_scale_grad(ctx.stream, in[0].f32(), in[1].f32(), out.f32(), scratch, rows, d, eps_of(node));
}

void cross_entropy(CudaContext& ctx, const ir::Node&, std::span<const TensorRef> in, const TensorRef& out) {
  launch_cross_entropy(ctx.stream, in[0].f32(), in[1].i32(), out.f32(), in[1].numel(), in[0].type.shape.back(),
                       ctx.errors);
}

void cross_entropy_grad(CudaContext& ctx, const ir::Node&, std::span<const TensorRef> in, const TensorRef& out) {
  launch_cross_entropy_grad(ctx.stream, in[0].f32(), in[1].i32(), in[2].f32(), out.f32(), in[1].numel(),
                            in[0].type.shape.back(), ctx.errors);
}

}  // namespace

void add_row_kernels(KernelTable& table) {
  table["softmax"] = softmax<false>;
  table["log_softmax"] = softmax<true>;
  table["softmax_grad"] = softmax_grad<false>;
  table["log_softmax_grad"] = softmax_grad<true>;
  table["layernorm"] = layernorm;
  table["layernorm_grad"] = layernorm_grad;
  table["layernorm_scale_grad"] = layernorm_scale_grad;
  table["cross_entropy"] = cross_entropy;
  table["cross_entropy_grad"] = cross_entropy_grad;
}

}  // namespace spmd::kernels::cuda
