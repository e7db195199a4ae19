// Internal to the NCCL backend: the combining step of the algorithms on device memory,
// acc[i] = acc[i] op in[i], enqueued on `stream`.
#pragma once

#include <cstddef>

#include <cuda_runtime_api.h>

namespace spmd::collectives::nccl {

void launch_combine(cudaStream_t stream, float* acc, const float* in, std::size_t n, bool max);

}  // namespace spmd::collectives::nccl
