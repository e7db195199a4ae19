#include "launcher/rank_device.h"

#include "common/error.h"
#include "launcher/gpus.h"
#include "launcher/hwloc_handle.h"
#include "launcher/node_devices.h"

namespace spmd::launcher {
namespace {

DeviceKind kind_of_binding(hwloc_topology_t topology, hwloc_const_cpuset_t binding) {
  for (hwloc_obj_t core = hwloc_get_next_obj_by_type(topology, HWLOC_OBJ_CORE, nullptr); core;
       core = hwloc_get_next_obj_by_type(topology, HWLOC_OBJ_CORE, core))
    if (hwloc_bitmap_isincluded(binding, core->cpuset)) return DeviceKind::core;
  Locality where = locality_of(topology, binding);
  if (where.numa >= 0) return DeviceKind::numa;
  if (where.package >= 0) return DeviceKind::package;
  return DeviceKind::node;
}

int pick_gpu(hwloc_topology_t topology, int local_rank, const char* cuda_visible_devices) {
  std::vector<Gpu> gpus = find_gpus(topology);
  std::vector<int> visible = visible_gpus(gpus, cuda_visible_devices);
  if (visible.size() == 1 && cuda_visible_devices) return visible[0];
  if (local_rank < static_cast<int>(visible.size())) return visible[local_rank];
  throw Error("device kind gpu: local rank " + std::to_string(local_rank) +
              " has no GPU: " + std::to_string(visible.size()) + " visible on this node (it has " +
              describe_node(topology) + "); run fewer ranks per node or use --device core");
}

}  // namespace

std::string process_binding(hwloc_topology_t topology) {
  HwlocBitmap binding(hwloc_bitmap_alloc());
  hwloc_const_cpuset_t allowed = hwloc_topology_get_allowed_cpuset(topology);
  if (hwloc_get_cpubind(topology, binding.get(), HWLOC_CPUBIND_PROCESS) != 0)
    hwloc_bitmap_copy(binding.get(), allowed);
  hwloc_bitmap_and(binding.get(), binding.get(), allowed);
  if (hwloc_bitmap_iszero(binding.get())) hwloc_bitmap_copy(binding.get(), allowed);
  return to_list_string(binding.get());
}

DeviceRecord rank_device(hwloc_topology_t topology, int local_rank, std::optional<DeviceKind> kind,
                         const char* cuda_visible_devices) {
  std::string binding = process_binding(topology);
  std::vector<Gpu> gpus = find_gpus(topology);
  bool wants_gpu =
      kind ? *kind == DeviceKind::gpu : !gpus.empty() && !visible_gpus(gpus, cuda_visible_devices).empty();
  if (wants_gpu) {
    if (gpus.empty())
      throw Error("device kind gpu: this node has no GPUs (it has " + describe_node(topology) + ")");
    DeviceRecord record = gpu_record(topology, pick_gpu(topology, local_rank, cuda_visible_devices));
    record.device.cpuset = binding;
    return record;
  }
  HwlocBitmap set(hwloc_bitmap_alloc());
  hwloc_bitmap_list_sscanf(set.get(), binding.c_str());
  Locality where = locality_of(topology, set.get());
  DeviceKind device_kind = kind.value_or(kind_of_binding(topology, set.get()));
  DeviceRecord record;
  record.device = {device_kind, 0, where.package, where.numa, binding, -1, "", where.groups,
                   local_memory_share(topology, device_kind, set.get()), ""};
  record.cache = outer_cache(topology, set.get());
  return record;
}

}  // namespace spmd::launcher

namespace spmd::launcher {

int processing_units(const Device& device) {
  if (device.cpuset.empty()) return 0;
  HwlocBitmap set(hwloc_bitmap_alloc());
  if (hwloc_bitmap_list_sscanf(set.get(), device.cpuset.c_str()) != 0) return 0;
  return std::max(0, hwloc_bitmap_weight(set.get()));
}

}  // namespace spmd::launcher
