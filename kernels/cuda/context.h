// Internal to the CUDA backend: what its op kernels share (the device, the stream every
// kernel runs on, the cuBLAS handle, the device word kernels report bad input to, a scratch
// buffer), the table from op name to kernel, and the check of CUDA's return codes.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <span>
#include <string>
#include <unordered_map>

#include "ir/graph.h"
#include "kernels/backend.h"
#include "kernels/cuda/launch.h"

namespace spmd::kernels::cuda {

// Throws spmd::Error naming `what` and CUDA's message when `status` is not success.
void check(cudaError_t status, const char* what);
void check(cublasStatus_t status, const char* what);

struct CudaContext {
  int device = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  ErrorReport* errors = nullptr;  // device memory, zeroed
  // Device scratch of at least `bytes`, valid until the next call; stream-ordered.
  void* scratch(size_t bytes);

  void* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
};

using CudaKernel = void (*)(CudaContext& ctx, const ir::Node& node, std::span<const TensorRef> in,
                            const TensorRef& out);
using KernelTable = std::unordered_map<std::string, CudaKernel>;

void add_matmul_kernels(KernelTable& table);
void add_elementwise_kernels(KernelTable& table);
void add_reduce_kernels(KernelTable& table);
void add_row_kernels(KernelTable& table);
void add_shape_kernels(KernelTable& table);
void add_optimizer_kernels(KernelTable& table);

// The walk reading `operand` (numpy-broadcast against `result`) for each index of `result`.
StridedIndex broadcast_walk(const ir::Shape& operand, const ir::Shape& result);
// Row-major strides of `shape`, in elements.
std::vector<int64_t> row_major_strides(const ir::Shape& shape);

}  // namespace spmd::kernels::cuda
