// The algorithms' combining step on the GPU. Sum and max in f32, as the host loop does, so a
// schedule gives the same bits on either communicator.
#include "collectives/nccl/combine.h"

namespace spmd::collectives::nccl {
namespace {

__global__ void combine_kernel(float* acc, const float* in, std::size_t n, bool max) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x) {
    acc[i] = max ? (acc[i] < in[i] ? in[i] : acc[i]) : acc[i] + in[i];
  }
}

}  // namespace

void launch_combine(cudaStream_t stream, float* acc, const float* in, std::size_t n, bool max) {
  if (n == 0) return;
  constexpr unsigned kThreads = 256;
  const std::size_t blocks = (n + kThreads - 1) / kThreads;
  combine_kernel<<<static_cast<unsigned>(blocks < 4096 ? blocks : 4096), kThreads, 0, stream>>>(acc, in, n, max);
}

}  // namespace spmd::collectives::nccl
