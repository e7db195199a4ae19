// Ops that move elements on the CUDA backend: each is one strided walk (launch.h), or a
// plain copy for reshape.
#include "ir/ops.h"
#include "kernels/cuda/context.h"

namespace spmd::kernels::cuda {
namespace {

// Result axis d is operand axis perm[d]: walk the result, reading the operand's strides.
void transpose(CudaContext& ctx, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  const std::vector<int64_t>& perm = node.attrs.ints("perm");
  const std::vector<int64_t> strides = row_major_strides(in[0].type.shape);
  StridedIndex walk;
  walk.rank = static_cast<int>(perm.size());
  for (size_t d = 0; d < perm.size(); ++d) {
    walk.shape[d] = out.type.shape[d];
    walk.stride[d] = strides[perm[d]];
  }
  launch_gather_strided(ctx.stream, in[0].data, walk, out.data, out.numel());
}

void reshape(CudaContext& ctx, const ir::Node&, std::span<const TensorRef> in, const TensorRef& out) {
  if (in[0].data == out.data) return;
  check(cudaMemcpyAsync(out.data, in[0].data, out.type.bytes(), cudaMemcpyDeviceToDevice, ctx.stream), "reshape");
}

void broadcast(CudaContext& ctx, const ir::Node&, std::span<const TensorRef> in, const TensorRef& out) {
  launch_gather_strided(ctx.stream, in[0].data, broadcast_walk(in[0].type.shape, out.type.shape), out.data,
                        out.numel());
}

// The walk over a block of shape `block` at `begin` within a tensor of shape `whole`.
StridedIndex block_walk(const ir::Shape& block, const ir::Shape& whole, const std::vector<int64_t>& begin) {
  const std::vector<int64_t> strides = row_major_strides(whole);
  StridedIndex walk;
  walk.rank = static_cast<int>(block.size());
  for (size_t d = 0; d < block.size(); ++d) {
    walk.shape[d] = block[d];
    walk.stride[d] = strides[d];
    walk.offset += begin[d] * strides[d];
  }
  return walk;
}

void slice(CudaContext& ctx, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  launch_gather_strided(ctx.stream, in[0].data, block_walk(out.type.shape, in[0].type.shape, node.attrs.ints("begin")),
                        out.data, out.numel());
}

void pad(CudaContext& ctx, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  launch_fill(ctx.stream, out.data, out.numel(), 0u);
  launch_scatter_strided(ctx.stream, in[0].data,
                         block_walk(in[0].type.shape, out.type.shape, node.attrs.ints("begin")), out.data,
                         in[0].numel());
}

void concat(CudaContext& ctx, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  const int axis = ir::normalize_axis(node.attrs.i("axis"), out.type.rank());
  std::vector<int64_t> begin(out.type.shape.size(), 0);
  for (const TensorRef& part : in) {
    launch_scatter_strided(ctx.stream, part.data, block_walk(part.type.shape, out.type.shape, begin), out.data,
                           part.numel());
    begin[axis] += part.type.shape[axis];
  }
}

void gather(CudaContext& ctx, const ir::Node&, std::span<const TensorRef> in, const TensorRef& out) {
  launch_gather_rows(ctx.stream, in[0].f32(), in[1].i32(), out.f32(), in[1].numel(), in[0].type.shape[0],
                     in[0].type.shape[1], ctx.errors);
}

void scatter_add(CudaContext& ctx, const ir::Node&, std::span<const TensorRef> in, const TensorRef& out) {
  launch_scatter_add_rows(ctx.stream, in[0].i32(), in[1].f32(), out.f32(), in[0].numel(), out.type.shape[0],
                          out.type.shape[1], ctx.errors);
}

}  // namespace

void add_shape_kernels(KernelTable& table) {
  table["transpose"] = transpose;
  table["reshape"] = reshape;
  table["broadcast"] = broadcast;
  table["slice"] = slice;
  table["pad"] = pad;
  table["concat"] = concat;
  table["gather"] = gather;
  table["scatter_add"] = scatter_add;
}

}  // namespace spmd::kernels::cuda
