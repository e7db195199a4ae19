// The kernel interface the runtime calls: one Backend per device kind. A backend computes a
// node's result from its operands' buffers. Buffers are dense, row-major, 4-byte elements
// (f32 or i32 per the tensor's type). Sources (input, param, state) are filled by the runtime;
// `constant` is a kernel like any other.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

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
};

// The plain C++ backend every other backend is tested against: float64 accumulation,
// single-threaded, slow.
std::unique_ptr<Backend> make_reference_backend();
// The CPU backend: oneDNN primitives (cached by shape) for matmul, eltwise, softmax,
// layernorm, binary and reductions; OpenMP loops for the rest. Uses the process's OpenMP
// threads (OMP_NUM_THREADS, or every core of the rank's binding).
std::unique_ptr<Backend> make_cpu_backend();
// Sets how many threads the CPU backend's kernels use from now on (OpenMP's count: the
// cores of the rank's binding, or OMP_NUM_THREADS, unless set here).
void set_cpu_threads(int threads);

}  // namespace spmd::kernels
