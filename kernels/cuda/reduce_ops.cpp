// The reductions on the CUDA backend. A reduction over `axes` is two walks over the input:
// one over the kept axes (the first element of each result) and one over the reduced axes.
#include <algorithm>

#include "ir/ops.h"
#include "kernels/cuda/context.h"

namespace spmd::kernels::cuda {
namespace {

std::vector<bool> reduced_axes(const ir::Node& node, const ir::Shape& x) {
  std::vector<bool> reduced(x.size(), false);
  for (int64_t a : node.attrs.ints("axes")) reduced[ir::normalize_axis(a, static_cast<int>(x.size()))] = true;
  return reduced;
}

// The walk over x's axes that are (`take` true) or are not reduced, with x's strides.
StridedIndex axes_walk(const ir::Shape& x, const std::vector<bool>& reduced, bool take) {
  const std::vector<int64_t> strides = row_major_strides(x);
  StridedIndex walk;
  for (size_t d = 0; d < x.size(); ++d) {
    if (reduced[d] != take) continue;
    walk.shape[walk.rank] = x[d];
    walk.stride[walk.rank] = strides[d];
    ++walk.rank;
  }
  return walk;
}

template <Reduce F>
void reduce(CudaContext& ctx, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  const ir::Shape& x = in[0].type.shape;
  const std::vector<bool> reduced = reduced_axes(node, x);
  launch_reduce(ctx.stream, F, in[0].f32(), axes_walk(x, reduced, false), axes_walk(x, reduced, true), out.f32(),
                out.numel());
}

// x, y = reduce_max(x), dy: each element of x reads y and dy at its reduced position.
void reduce_max_grad(CudaContext& ctx, const ir::Node& node, std::span<const TensorRef> in, const TensorRef& out) {
  const ir::Shape& x = in[0].type.shape;
  const std::vector<bool> reduced = reduced_axes(node, x);
  ir::Shape kept = x;
  for (size_t d = 0; d < x.size(); ++d) {
    if (reduced[d]) kept[d] = 1;
  }
  const std::vector<int64_t> strides = row_major_strides(kept);
  StridedIndex walk;
  walk.rank = static_cast<int>(x.size());
  for (size_t d = 0; d < x.size(); ++d) {
    walk.shape[d] = x[d];
    walk.stride[d] = reduced[d] ? 0 : strides[d];
  }
  launch_reduce_max_grad(ctx.stream, in[0].f32(), in[1].f32(), in[2].f32(), walk, out.f32(), out.numel());
}

}  // namespace

void add_reduce_kernels(KernelTable& table) {
  table["reduce_sum"] = reduce<Reduce::sum>;
  table["reduce_mean"] = reduce<Reduce::mean>;
  table["reduce_max"] = reduce<Reduce::max>;
  table["reduce_max_grad"] = reduce_max_grad;
}

}  // namespace spmd::kernels::cuda
