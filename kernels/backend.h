// The kernel interface the runtime calls: one Backend per device kind. A backend computes a
// node's result from its operands' buffers. Buffers are dense, row-major, 4-byte elements
// (f32 or i32 per the tensor's type), in the backend's memory: host memory for the CPU and
// reference backends, the GPU's for the CUDA one (allocate(), copy_in(), copy_out()).
// Sources (input, param, state) are filled by the runtime; `constant` is a kernel like any
// other. Kernels may run asynchronously: synchronize() waits for them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "ir/graph.h"

namespace spmd::kernels {

// A view of one tensor: its type and its buffer (not owned).
struct TensorRef {
  ir::TensorType type;
  void* data = nullptr;

  float* f32() const { return static_cast<float*>(data); }
  int32_t* i32() const { return static_cast<int32_t*>(data); }
  int64_t numel() const { return type.numel(); }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // Whether `run` computes `op` on operands of these types. The runtime asks before it runs
  // a program; a backend that covers only some dtypes of an op says so here.
  virtual bool supports(std::string_view op, std::span<const ir::TensorType> operands) const = 0;
  // Computes `node`'s result into `out` (already of node.type) from `operands` (one per
  // node.inputs, same order). `out` never aliases an operand unless the op is elementwise
  // and the runtime chose to run it in place. Throws spmd::InternalError naming the op and
  // the backend for an op it lacks (no op falls through to another's kernel).
  virtual void run(const ir::Node& node, std::span<const TensorRef> operands,
                   const TensorRef& out) = 0;

  // Where run() reads and writes: false for host memory (the default), true for an
  // accelerator's memory, which only this backend's kernels and copies may touch.
  virtual bool device_memory() const { return false; }
  // `bytes` of this backend's memory, 64-byte aligned (on the host, 2 MiB-aligned and in
  // huge pages where 2 MiB or more and the kernel grants them; at least one byte), and
  // its release. Throws spmd::Error saying how much was asked when it cannot be had.
  virtual void* allocate(size_t bytes);
  // The same for a program's arena, the one buffer most of its values lie in, collectives'
  // operands among them: on the host in huge pages from 256 KiB on, rounded up to whole ones
  // (less than 2 MiB more reserved, once per program), since Open MPI's single copy between
  // ranks pins and copies page by page: mlp's 256 KiB gradient all-reduce on 2 ranks took
  // 37 us in an arena of 1.3 MiB on small pages, 33 us on huge ones. Released with release().
  virtual void* allocate_arena(size_t bytes);
  virtual void release(void* buffer) noexcept;
  // Copies between host memory and this backend's memory, after every kernel run before
  // (copy_out waits for them). Host backends memcpy.
  virtual void copy_in(void* backend_dst, const void* host_src, size_t bytes);
  virtual void copy_out(void* host_dst, const void* backend_src, size_t bytes);
  // Copies within this backend's memory, ordered with its kernels.
  virtual void copy_within(void* dst, const void* src, size_t bytes);
  // Waits for every kernel run so far, and reports what they found wrong (an id out of range
  // on a device that cannot throw from a kernel) as spmd::Error. Free on host backends.
  virtual void synchronize() {}
  // Whether every element of every f32 tensor of `tensors` (this backend's memory) is finite,
  // neither NaN nor infinite: what a job asks of its params after each step. One pass over
  // them, without copying them out (a device reads back one word).
  virtual bool all_finite(std::span<const TensorRef> tensors);
};

// What a buffer holds: a value of its own, or a program's arena (Backend::allocate_arena).
enum class BufferUse { value, arena };

// A buffer of a backend's memory, released with it.
class BackendBuffer {
 public:
  BackendBuffer() = default;
  BackendBuffer(Backend& backend, size_t bytes, BufferUse use = BufferUse::value)
      : backend_(&backend), data_(use == BufferUse::arena ? backend.allocate_arena(bytes) : backend.allocate(bytes)) {}
  BackendBuffer(BackendBuffer&& o) noexcept : backend_(o.backend_), data_(o.data_) { o.data_ = nullptr; }
  BackendBuffer& operator=(BackendBuffer&& o) noexcept {
    std::swap(backend_, o.backend_);
    std::swap(data_, o.data_);
    return *this;
  }
  ~BackendBuffer() {
    if (data_) backend_->release(data_);
  }
  void* get() const { return data_; }
  float* f32() const { return static_cast<float*>(data_); }

 private:
  Backend* backend_ = nullptr;
  void* data_ = nullptr;
};

// The plain C++ backend every other backend is tested against: float64 accumulation,
// single-threaded, slow.
std::unique_ptr<Backend> make_reference_backend();
// The CPU backend: oneDNN primitives (cached by shape) for matmul, eltwise, softmax,
// layernorm, binary and reductions; OpenMP loops for the rest. Uses the process's OpenMP
// threads (OMP_NUM_THREADS, or every core of the rank's binding).
std::unique_ptr<Backend> make_cpu_backend();
// The CUDA backend: cuBLAS for matmul (TF32 off, so results match the CPU's f32), CUDA
// kernels for every other op, all on one stream of GPU `device` (a CUDA ordinal). Throws
// spmd::Error when the build has no CUDA backend or the device cannot be used.
std::unique_ptr<Backend> make_cuda_backend(int device = 0);
// The GPUs this process can use (0 when the build has no CUDA backend or the machine no GPU);
// `why`, when given, receives the reason there are none.
int cuda_device_count(std::string* why = nullptr);
// The CUDA ordinal of the GPU at PCI bus id `pci_bus_id` ("0000:3b:00.0", as hwloc names
// it), or -1 when no visible GPU has it.
int cuda_device_by_pci_bus_id(const std::string& pci_bus_id);
// Sets how many threads the CPU backend's kernels use from now on (OpenMP's count: the
// cores of the rank's binding, or OMP_NUM_THREADS, unless set here).
void set_cpu_threads(int threads);
// The threads the CPU backend's kernels use now. Free.
int cpu_threads();

}  // namespace spmd::kernels
