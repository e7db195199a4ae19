// Kernels that move 32-bit words without arithmetic (transpose, broadcast, slice, pad,
// concat: strided walks), and the embedding's row gather and scatter-add.
#include "kernels/cuda/device_util.cuh"

namespace spmd::kernels::cuda {
namespace {

__global__ void gather_strided_kernel(const uint32_t* x, StridedIndex walk, uint32_t* y, int64_t n) {
  SPMD_GRID_STRIDE(i, n) y[i] = x[strided_offset(walk, i)];
}

__global__ void scatter_strided_kernel(const uint32_t* x, StridedIndex walk, uint32_t* y, int64_t n) {
  SPMD_GRID_STRIDE(i, n) y[strided_offset(walk, i)] = x[i];
}

__global__ void gather_rows_kernel(const float* table, const int32_t* ids, float* y, int64_t n, int64_t rows,
                                   int64_t d, ErrorReport* err) {
  SPMD_GRID_STRIDE(i, n * d) {
    const int64_t position = i / d;
    const int32_t id = ids[position];
    if (id < 0 || id >= rows) {
      report(err, kErrGatherId, id, position, rows);
      y[i] = 0.f;
    } else {
      y[i] = table[id * d + i % d];
    }
  }
}

// Rows met by several ids are summed with atomics: the order of those sums, and so their
// last bits, may differ from run to run (as in every GPU framework's embedding gradient).
__global__ void scatter_add_rows_kernel(const int32_t* ids, const float* dy, float* y, int64_t n, int64_t rows,
                                        int64_t d, ErrorReport* err) {
  SPMD_GRID_STRIDE(i, n * d) {
    const int64_t position = i / d;
    const int32_t id = ids[position];
    if (id < 0 || id >= rows) {
      report(err, kErrScatterId, id, position, rows);
    } else {
      atomicAdd(&y[id * d + i % d], dy[i]);
    }
  }
}

}  // namespace

void launch_gather_strided(cudaStream_t s, const void* x, const StridedIndex& walk, void* y, int64_t n) {
  gather_strided_kernel<<<blocks_for(n), kThreads, 0, s>>>(static_cast<const uint32_t*>(x), walk,
                                                           static_cast<uint32_t*>(y), n);
}

void launch_scatter_strided(cudaStream_t s, const void* x, const StridedIndex& walk, void* y, int64_t n) {
  scatter_strided_kernel<<<blocks_for(n), kThreads, 0, s>>>(static_cast<const uint32_t*>(x), walk,
                                                            static_cast<uint32_t*>(y), n);
}

void launch_gather_rows(cudaStream_t s, const float* table, const int32_t* ids, float* y, int64_t n, int64_t rows,
                        int64_t d, ErrorReport* err) {
  gather_rows_kernel<<<blocks_for(n * d), kThreads, 0, s>>>(table, ids, y, n, rows, d, err);
}

void launch_scatter_add_rows(cudaStream_t s, const int32_t* ids, const float* dy, float* y, int64_t n, int64_t rows,
                             int64_t d, ErrorReport* err) {
  launch_fill(s, y, rows * d, 0u);
  scatter_add_rows_kernel<<<blocks_for(n * d), kThreads, 0, s>>>(ids, dy, y, n, rows, d, err);
}

}  // namespace spmd::kernels::cuda
