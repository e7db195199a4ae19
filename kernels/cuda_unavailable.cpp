// A build without the CUDA toolkit: the CUDA backend's entry points say so.
#include "common/error.h"
#include "kernels/backend.h"

namespace spmd::kernels {

namespace {
constexpr const char* kNoCuda =
    "this build has no GPU backend: configure it with the CUDA toolkit (nvcc, cuBLAS) and SPMD_WITH_CUDA=ON";
}

std::unique_ptr<Backend> make_cuda_backend(int) { throw Error(kNoCuda); }

int cuda_device_count(std::string* why) {
  if (why) *why = kNoCuda;
  return 0;
}

int cuda_device_by_pci_bus_id(const std::string&) { return -1; }

}  // namespace spmd::kernels
