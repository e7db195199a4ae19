// The CUDA Backend: device memory from cudaMalloc, every kernel and copy on one stream of its
// own, cuBLAS bound to that stream. Kernels cannot throw, so bad ids and labels are written
// to a device word that synchronize() reads back.
#include "kernels/backend.h"

#include "common/error.h"
#include "common/units.h"
#include "kernels/cuda/context.h"

namespace spmd::kernels {
namespace cuda {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw Error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(status));
}

void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw Error(std::string("cuBLAS: ") + what + ": " + cublasGetStatusString(status));
  }
}

void* CudaContext::scratch(size_t bytes) {
  if (bytes <= scratch_bytes_) return scratch_;
  if (scratch_) check(cudaFreeAsync(scratch_, stream), "cudaFreeAsync");
  check(cudaMallocAsync(&scratch_, bytes, stream), "cudaMallocAsync");
  scratch_bytes_ = bytes;
  return scratch_;
}

}  // namespace cuda

namespace {

using cuda::check;

std::string error_text(const cuda::ErrorReport& e) {
  const char* what = e.code == cuda::kErrGatherId    ? "gather: id "
                     : e.code == cuda::kErrScatterId ? "scatter_add: id "
                     : e.code == cuda::kErrLabel     ? "cross_entropy: label "
                                                     : "cross_entropy_grad: label ";
  return what + std::to_string(e.value) + " out of range [0, " + std::to_string(e.bound) + ") at position " +
         std::to_string(e.position);
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, bool tf32) {
    ctx_.device = device;
    check(cudaSetDevice(device), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&ctx_.stream, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cublasCreate(&ctx_.blas), "cublasCreate");
    check(cublasSetStream(ctx_.blas, ctx_.stream), "cublasSetStream");
    check(cublasSetMathMode(ctx_.blas, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    check(cudaMalloc(reinterpret_cast<void**>(&ctx_.errors), sizeof(cuda::ErrorReport)), "cudaMalloc");
    check(cudaMemset(ctx_.errors, 0, sizeof(cuda::ErrorReport)), "cudaMemset");
    cuda::add_matmul_kernels(kernels_);
    cuda::add_elementwise_kernels(kernels_);
    cuda::add_reduce_kernels(kernels_);
    cuda::add_row_kernels(kernels_);
    cuda::add_shape_kernels(kernels_);
    cuda::add_optimizer_kernels(kernels_);
  }

  ~CudaBackend() override {
    cudaStreamSynchronize(ctx_.stream);
    if (ctx_.scratch_) cudaFree(ctx_.scratch_);
    cudaFree(ctx_.errors);
    cublasDestroy(ctx_.blas);
    cudaStreamDestroy(ctx_.stream);
  }

  std::string_view name() const override { return "cuda"; }

  bool supports(std::string_view op, std::span<const ir::TensorType>) const override {
    return kernels_.contains(std::string(op));
  }

  void run(const ir::Node& node, std::span<const TensorRef> operands, const TensorRef& out) override {
    auto it = kernels_.find(node.op);
    if (it == kernels_.end()) {
      throw InternalError("cuda backend: no kernel for op '" + node.op + "'" +
                          (node.is_source() ? " (sources are fed by the runtime)" : ""));
    }
    it->second(ctx_, node, operands, out);
    check(cudaGetLastError(), node.op.c_str());
  }

  bool device_memory() const override { return true; }

  void* allocate(size_t bytes) override {
    void* p = nullptr;
    const cudaError_t status = cudaMalloc(&p, std::max<size_t>(bytes, 1));
    if (status != cudaSuccess) {
      cudaGetLastError();  // clear it: the backend stays usable
      throw Error("cannot allocate " + bytes_text(static_cast<double>(bytes)) + " on GPU " +
                  std::to_string(ctx_.device) + ": " + cudaGetErrorString(status));
    }
    return p;
  }

  void release(void* buffer) noexcept override {
    cudaStreamSynchronize(ctx_.stream);
    cudaFree(buffer);
  }

  void copy_in(void* dst, const void* src, size_t bytes) override {
    if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx_.stream), "copy to the GPU");
    // A pageable source is staged before the call returns; a later write to it is safe.
  }

  void copy_out(void* dst, const void* src, size_t bytes) override {
    if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx_.stream), "copy from the GPU");
    synchronize();
  }

  void copy_within(void* dst, const void* src, size_t bytes) override {
    if (bytes && dst != src) {
      check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx_.stream), "copy within the GPU");
    }
  }

  // One flag for all the tensors, one word read back.
  bool all_finite(std::span<const TensorRef> tensors) override {
    int* flag = static_cast<int*>(ctx_.scratch(sizeof(int)));
    check(cudaMemsetAsync(flag, 0, sizeof(int), ctx_.stream), "cudaMemsetAsync");
    for (const TensorRef& t : tensors) {
      if (t.type.dtype == ir::DType::f32) cuda::launch_flag_nonfinite(ctx_.stream, t.f32(), t.numel(), flag);
    }
    check(cudaGetLastError(), "the finiteness check");
    int found = 0;
    copy_out(&found, flag, sizeof found);
    return found == 0;
  }

  void synchronize() override {
    check(cudaStreamSynchronize(ctx_.stream), "the stream's kernels");
    cuda::ErrorReport report{};
    check(cudaMemcpy(&report, ctx_.errors, sizeof report, cudaMemcpyDeviceToHost), "reading the kernels' report");
    if (report.code == 0) return;
    check(cudaMemset(ctx_.errors, 0, sizeof report), "cudaMemset");
    throw Error(error_text(report));
  }

 private:
  cuda::CudaContext ctx_;
  cuda::KernelTable kernels_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int device) {
  std::string why;
  const int count = cuda_device_count(&why);
  if (count == 0) throw Error("no GPU for the CUDA backend: " + why);
  if (device < 0 || device >= count) {
    throw Error("GPU " + std::to_string(device) + " does not exist: this process sees " + std::to_string(count));
  }
  return std::make_unique<CudaBackend>(device, false);
}

int cuda_device_count(std::string* why) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    if (why) *why = cudaGetErrorString(status);
    return 0;
  }
  if (count == 0 && why) *why = "the CUDA runtime sees no device";
  return count;
}

int cuda_device_by_pci_bus_id(const std::string& pci_bus_id) {
  int device = -1;
  if (cudaDeviceGetByPCIBusId(&device, pci_bus_id.c_str()) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return device;
}

}  // namespace spmd::kernels
