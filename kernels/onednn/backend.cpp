// The CPU Backend: finds the op's kernel in its table and runs it with the backend's own
// oneDNN context (engine, stream, primitive cache).
#include "kernels/backend.h"

#include <omp.h>

#include "common/error.h"
#include "kernels/onednn/context.h"

namespace spmd::kernels {
namespace {

class CpuBackend final : public Backend {
 public:
  CpuBackend() {
    cpu::add_matmul_kernels(kernels_);
    cpu::add_eltwise_kernels(kernels_);
    cpu::add_binary_kernels(kernels_);
    cpu::add_softmax_kernels(kernels_);
    cpu::add_normalization_kernels(kernels_);
    cpu::add_reduce_kernels(kernels_);
    cpu::add_shape_kernels(kernels_);
    cpu::add_embedding_kernels(kernels_);
    cpu::add_loss_kernels(kernels_);
    cpu::add_optimizer_kernels(kernels_);
  }

  std::string_view name() const override { return "cpu"; }

  // Every kernel takes the dtypes its op's shape rule admits (f32, i32 ids and labels).
  bool supports(std::string_view op, std::span<const ir::TensorType>) const override {
    return kernels_.contains(std::string(op));
  }

  void run(const ir::Node& node, std::span<const TensorRef> operands,
           const TensorRef& out) override {
    auto it = kernels_.find(node.op);
    if (it == kernels_.end()) {
      throw InternalError("cpu backend: no kernel for op '" + node.op + "'" +
                          (node.is_source() ? " (sources are fed by the runtime)" : ""));
    }
    it->second(context_, node, operands, out);
  }

 private:
  cpu::KernelTable kernels_;
  cpu::CpuContext context_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

void set_cpu_threads(int threads) { omp_set_num_threads(threads > 0 ? threads : 1); }

int cpu_threads() { return omp_get_max_threads(); }

}  // namespace spmd::kernels
