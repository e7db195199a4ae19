// Internal to the CUDA backend's .cu files: launch geometry, strided offsets and warp sums.
#pragma once

#include <cstdint>

#include "kernels/cuda/launch.h"

namespace spmd::kernels::cuda {

constexpr int kThreads = 256;
constexpr int kWarp = 32;

// Enough blocks of kThreads for n threads, capped so that a grid-stride loop covers the rest.
inline unsigned blocks_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 * 8 ? 65535 * 8 : blocks));
}

// One warp per line: blocks of kThreads / kWarp lines.
inline unsigned warp_blocks_for(int64_t lines) {
  constexpr int64_t per_block = kThreads / kWarp;
  const int64_t blocks = (lines + per_block - 1) / per_block;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 * 8 ? 65535 * 8 : blocks));
}

#define SPMD_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// The global warp number and lane of this thread, and the warps' stride.
#define SPMD_WARP_STRIDE(line, lines)                                                             \
  const int lane = threadIdx.x % kWarp;                                                           \
  for (int64_t line = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / kWarp; line < (lines); \
       line += int64_t(gridDim.x) * blockDim.x / kWarp)

// The position `walk` reads for flat index i of its shape. Division is what costs here, and
// 64-bit division is emulated in many instructions: below 2^32 it is done in 32 bits.
__device__ inline int64_t strided_offset(const StridedIndex& walk, int64_t i) {
  int64_t offset = walk.offset;
  if (i < (int64_t{1} << 32)) {
    uint32_t j = static_cast<uint32_t>(i);
    for (int d = walk.rank - 1; d >= 0; --d) {
      const uint32_t size = static_cast<uint32_t>(walk.shape[d]);  // < 2^32: it divides into j's range
      const uint32_t q = j / size;
      offset += static_cast<int64_t>(j - q * size) * walk.stride[d];
      j = q;
    }
    return offset;
  }
  for (int d = walk.rank - 1; d >= 0; --d) {
    const int64_t size = walk.shape[d];
    offset += (i % size) * walk.stride[d];
    i /= size;
  }
  return offset;
}

__device__ inline double warp_sum(double v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ inline double warp_max(double v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Records the first bad input a kernel meets.
__device__ inline void report(ErrorReport* err, long long code, long long value, long long position,
                              long long bound) {
  if (atomicCAS(reinterpret_cast<unsigned long long*>(&err->code), 0ull, static_cast<unsigned long long>(code)) == 0) {
    err->value = value;
    err->position = position;
    err->bound = bound;
  }
}

}  // namespace spmd::kernels::cuda
