// The optimizer updates on the CUDA backend.
#include "kernels/cuda/context.h"

namespace spmd::kernels::cuda {
namespace {

template <bool kSquare>
void ema(CudaContext& ctx, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  launch_ema(ctx.stream, kSquare, in[0].f32(), in[1].f32(), out.f32(), out.numel(),
             static_cast<float>(node.attrs.f("decay")), static_cast<float>(node.attrs.f("gain")));
}

void sgd(CudaContext& ctx, const ir::Node&, std::span<const TensorRef> in, const TensorRef& out) {
  launch_sgd(ctx.stream, in[0].f32(), in[1].f32(), in[2].f32(), out.f32(), out.numel());
}

void adamw(CudaContext& ctx, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  const AdamW h{static_cast<float>(node.attrs.f("beta1")), static_cast<float>(node.attrs.f("beta2")),
                static_cast<float>(node.attrs.f("eps")), static_cast<float>(node.attrs.f("weight_decay"))};
  launch_adamw(ctx.stream, in[0].f32(), in[1].f32(), in[2].f32(), in[3].f32(), in[4].f32(), out.f32(), out.numel(),
               h);
}

}  // namespace

void add_optimizer_kernels(KernelTable& table) {
  table["ema"] = ema<false>;
  table["ema_sq"] = ema<true>;
  table["sgd"] = sgd;
  table["adamw"] = adamw;
}

}  // namespace spmd::kernels::cuda
