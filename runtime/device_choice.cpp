#include "runtime/device_choice.h"

#include "common/error.h"

namespace spmd::runtime {
namespace {

const launcher::Device* rank_device(const launcher::Topology* topology, int rank) {
  if (!topology || rank >= topology->num_devices()) return nullptr;
  return &topology->device(rank);
}

std::unique_ptr<kernels::Backend> gpu_backend(const launcher::Device* device, int rank) {
  std::string why;
  const int visible = kernels::cuda_device_count(&why);
  if (visible == 0) throw Error("--device gpu: rank " + std::to_string(rank) + " has no GPU: " + why);
  int ordinal = -1;
  if (device && !device->pci_bus_id.empty()) ordinal = kernels::cuda_device_by_pci_bus_id(device->pci_bus_id);
  if (ordinal < 0) ordinal = rank % visible;
  return kernels::make_cuda_backend(ordinal);
}

}  // namespace

std::unique_ptr<kernels::Backend> make_rank_backend(const std::string& device, const launcher::Topology* topology,
                                                    int rank) {
  const launcher::Device* mine = rank_device(topology, rank);
  if (device == "cpu") return kernels::make_cpu_backend();
  if (device == "gpu") return gpu_backend(mine, rank);
  if (device != "auto") throw Error("device '" + device + "' is none of cpu, gpu, auto");
  const bool on_gpu = mine ? mine->kind == launcher::DeviceKind::gpu : !topology && kernels::cuda_device_count() > 0;
  if (on_gpu && kernels::cuda_device_count() > 0) return gpu_backend(mine, rank);
  return kernels::make_cpu_backend();
}

}  // namespace spmd::runtime
