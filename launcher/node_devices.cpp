#include "launcher/node_devices.h"

#include <algorithm>

#include "common/error.h"
#include "launcher/gpus.h"
#include "launcher/hwloc_handle.h"

namespace spmd::launcher {
namespace {

std::vector<hwloc_obj_t> objects_of(hwloc_topology_t topology, hwloc_obj_type_t type) {
  std::vector<hwloc_obj_t> objects;
  for (hwloc_obj_t obj = hwloc_get_next_obj_by_type(topology, type, nullptr); obj;
       obj = hwloc_get_next_obj_by_type(topology, type, obj))
    if (obj->cpuset && !hwloc_bitmap_iszero(obj->cpuset)) objects.push_back(obj);
  return objects;
}

DeviceRecord cpu_record(hwloc_topology_t topology, DeviceKind kind, hwloc_const_cpuset_t cpuset) {
  Locality where = locality_of(topology, cpuset);
  DeviceRecord record;
  record.device = {kind, 0, where.package, where.numa, to_list_string(cpuset), -1, ""};
  return record;
}

// NUMA nodes with PUs, one per distinct cpuset: memory-only nodes have no cores to run a
// rank, and hwloc attaches several memory kinds (DRAM, MCDRAM, HBM) to one locality.
std::vector<hwloc_obj_t> numa_localities(hwloc_topology_t topology) {
  std::vector<hwloc_obj_t> localities;
  for (hwloc_obj_t numa : objects_of(topology, HWLOC_OBJ_NUMANODE)) {
    bool seen = std::any_of(localities.begin(), localities.end(), [&](hwloc_obj_t other) {
      return hwloc_bitmap_isequal(other->cpuset, numa->cpuset);
    });
    if (!seen) localities.push_back(numa);
  }
  return localities;
}

}  // namespace

Locality locality_of(hwloc_topology_t topology, hwloc_const_cpuset_t cpuset) {
  Locality where;
  for (hwloc_obj_t package : objects_of(topology, HWLOC_OBJ_PACKAGE))
    if (hwloc_bitmap_isincluded(cpuset, package->cpuset))
      where.package = static_cast<int>(package->logical_index);
  // The nearest NUMA node is the smallest one holding the whole set; the first in logical
  // order among equals (DRAM before MCDRAM on a Knights Landing).
  int best_weight = 0;
  for (hwloc_obj_t numa : objects_of(topology, HWLOC_OBJ_NUMANODE)) {
    int weight = hwloc_bitmap_weight(numa->cpuset);
    if (hwloc_bitmap_isincluded(cpuset, numa->cpuset) && (where.numa < 0 || weight < best_weight)) {
      where.numa = static_cast<int>(numa->logical_index);
      best_weight = weight;
    }
  }
  return where;
}

DeviceRecord gpu_record(hwloc_topology_t topology, int index) {
  std::vector<Gpu> gpus = find_gpus(topology);
  const Gpu& gpu = gpus.at(index);
  hwloc_obj_t host = hwloc_get_non_io_ancestor_obj(topology, gpu.pci);
  DeviceRecord record = cpu_record(topology, DeviceKind::gpu, host->cpuset);
  record.device.gpu = index;
  record.device.pci_bus_id = gpu.pci_bus_id;
  NvlinkMatrix nvlink = find_nvlink_bandwidth(topology, gpus);
  if (!nvlink.bandwidth_Bps.empty()) record.nvlink_Bps = nvlink.bandwidth_Bps[index];
  record.nvlink_through_switch = nvlink.through_switch;
  record.pcie_Bps = gpu.pcie_Bps;
  return record;
}

std::vector<DeviceRecord> node_devices(hwloc_topology_t topology, DeviceKind kind, const std::string& where) {
  std::vector<DeviceRecord> records;
  auto add_all = [&](const std::vector<hwloc_obj_t>& objects) {
    for (hwloc_obj_t obj : objects) records.push_back(cpu_record(topology, kind, obj->cpuset));
  };
  switch (kind) {
    case DeviceKind::core:
      add_all(objects_of(topology, HWLOC_OBJ_CORE));
      break;
    case DeviceKind::numa:
      add_all(numa_localities(topology));
      break;
    case DeviceKind::package:
      add_all(objects_of(topology, HWLOC_OBJ_PACKAGE));
      break;
    case DeviceKind::node:
      records.push_back(cpu_record(topology, kind, hwloc_topology_get_allowed_cpuset(topology)));
      break;
    case DeviceKind::gpu: {
      int gpus = static_cast<int>(find_gpus(topology).size());
      for (int i = 0; i < gpus; ++i) records.push_back(gpu_record(topology, i));
      break;
    }
  }
  if (records.empty())
    throw Error("--device " + to_string(kind) + ": " + where + " has no " + to_string(kind) +
                " devices (it has " + describe_node(topology) + ")");
  return records;
}

DeviceKind default_device_kind(hwloc_topology_t topology) {
  return find_gpus(topology).empty() ? DeviceKind::numa : DeviceKind::gpu;
}

std::string describe_node(hwloc_topology_t topology) {
  return std::to_string(objects_of(topology, HWLOC_OBJ_PACKAGE).size()) + " packages, " +
         std::to_string(numa_localities(topology).size()) + " NUMA nodes with cores, " +
         std::to_string(objects_of(topology, HWLOC_OBJ_CORE).size()) + " cores, " +
         std::to_string(find_gpus(topology).size()) + " GPUs";
}

}  // namespace spmd::launcher
