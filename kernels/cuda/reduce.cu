// reduce_sum, reduce_mean and reduce_max over any axes, and reduce_max_grad. One warp per
// result: its lanes walk the reduced elements, so a reduction over many rows (a bias
// gradient) and one over a contiguous line both keep every lane busy.
#include <cmath>

#include "kernels/cuda/device_util.cuh"

namespace spmd::kernels::cuda {
namespace {

__global__ void reduce_kernel(Reduce f, const float* x, StridedIndex kept, StridedIndex reduced, int64_t count,
                              float* y, int64_t outputs) {
  SPMD_WARP_STRIDE(o, outputs) {
    const int64_t base = strided_offset(kept, o);
    double acc = f == Reduce::max ? -INFINITY : 0.0;
    for (int64_t r = lane; r < count; r += kWarp) {
      const double v = x[base + strided_offset(reduced, r)];
      acc = f == Reduce::max ? fmax(acc, v) : acc + v;
    }
    acc = f == Reduce::max ? warp_max(acc) : warp_sum(acc);
    if (lane == 0) y[o] = static_cast<float>(f == Reduce::mean ? acc / static_cast<double>(count) : acc);
  }
}

__global__ void reduce_max_grad_kernel(const float* x, const float* y, const float* dy, StridedIndex kept, float* dx,
                                       int64_t n) {
  SPMD_GRID_STRIDE(i, n) {
    const int64_t o = strided_offset(kept, i);
    dx[i] = x[i] == y[o] ? dy[o] : 0.f;
  }
}

}  // namespace

void launch_reduce(cudaStream_t s, Reduce f, const float* x, const StridedIndex& kept, const StridedIndex& reduced,
                   float* y, int64_t outputs) {
  int64_t count = 1;
  for (int d = 0; d < reduced.rank; ++d) count *= reduced.shape[d];
  reduce_kernel<<<warp_blocks_for(outputs), kThreads, 0, s>>>(f, x, kept, reduced, count, y, outputs);
}

void launch_reduce_max_grad(cudaStream_t s, const float* x, const float* y, const float* dy, const StridedIndex& kept,
                            float* dx, int64_t n) {
  reduce_max_grad_kernel<<<blocks_for(n), kThreads, 0, s>>>(x, y, dy, kept, dx, n);
}

}  // namespace spmd::kernels::cuda
