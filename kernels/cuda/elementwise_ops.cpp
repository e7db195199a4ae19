// The elementwise ops on the CUDA backend: unaries, broadcasting binaries, the causal mask
// and constants.
#include <cstring>

#include "kernels/cuda/context.h"

namespace spmd::kernels::cuda {
namespace {

template <Unary F>
void unary(CudaContext& ctx, const ir::Node&, std::span<const TensorRef> in, const TensorRef& out) {
  launch_unary(ctx.stream, F, in[0].f32(), out.f32(), out.numel());
}

template <Binary F>
void binary(CudaContext& ctx, const ir::Node&, std::span<const TensorRef> in, const TensorRef& out) {
  const ir::Shape& shape = out.type.shape;
  const bool same = in[0].type.shape == shape && in[1].type.shape == shape;
  StridedIndex a, b;
  if (!same) {
    a = broadcast_walk(in[0].type.shape, shape);
    b = broadcast_walk(in[1].type.shape, shape);
  }
  launch_binary(ctx.stream, F, in[0].f32(), same ? nullptr : &a, in[1].f32(), same ? nullptr : &b, out.f32(),
                out.numel());
}

void causal_mask(CudaContext& ctx, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  launch_causal_mask(ctx.stream, in[0].f32(), out.f32(), out.numel(), out.type.shape.back(),
                     static_cast<float>(node.attrs.f("fill")));
}

void constant(CudaContext& ctx, const ir::Node& node, std::span<const TensorRef>, const TensorRef& out) {
  const double value = node.attrs.f("value");
  uint32_t bits = 0;
  if (out.type.dtype == ir::DType::i32) {
    const auto word = static_cast<int32_t>(value);
    std::memcpy(&bits, &word, sizeof bits);
  } else {
    const auto word = static_cast<float>(value);
    std::memcpy(&bits, &word, sizeof bits);
  }
  launch_fill(ctx.stream, out.data, out.numel(), bits);
}

}  // namespace

void add_elementwise_kernels(KernelTable& table) {
  table["neg"] = unary<Unary::neg>;
  table["exp"] = unary<Unary::exp>;
  table["log"] = unary<Unary::log>;
  table["sqrt"] = unary<Unary::sqrt>;
  table["rsqrt"] = unary<Unary::rsqrt>;
  table["tanh"] = unary<Unary::tanh>;
  table["relu"] = unary<Unary::relu>;
  table["gelu"] = unary<Unary::gelu>;
  table["add"] = binary<Binary::add>;
  table["sub"] = binary<Binary::sub>;
  table["mul"] = binary<Binary::mul>;
  table["div"] = binary<Binary::div>;
  table["relu_grad"] = binary<Binary::relu_grad>;
  table["gelu_grad"] = binary<Binary::gelu_grad>;
  table["causal_mask"] = causal_mask;
  table["constant"] = constant;
}

}  // namespace spmd::kernels::cuda
