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

// The depths of the node's Group objects, outermost first (hwloc names them Group0, ...).
std::vector<int> group_depths(hwloc_topology_t topology) {
  std::vector<int> depths;
  for (int d = 0; d < hwloc_topology_get_depth(topology); ++d)
    if (hwloc_get_depth_type(topology, d) == HWLOC_OBJ_GROUP) depths.push_back(d);
  return depths;
}

hwloc_obj_t ancestor_at_depth(hwloc_topology_t topology, int depth, hwloc_obj_t obj) {
  if (obj->depth == depth) return obj;
  return hwloc_get_ancestor_obj_by_depth(topology, depth, obj);
}

// The smallest logical index of the NUMA nodes among `memory` and its memory children
// (memory-side caches hold NUMA nodes), or -1.
int first_numa(hwloc_obj_t memory) {
  int first = -1;
  for (hwloc_obj_t m = memory; m; m = m->next_sibling) {
    int here = m->type == HWLOC_OBJ_NUMANODE ? static_cast<int>(m->logical_index) : first_numa(m->memory_first_child);
    if (here >= 0 && (first < 0 || here < first)) first = here;
  }
  return first;
}

// True when another NUMA node's PUs (hwloc docs: a NUMA node's cpuset is the PUs local to
// it) lie strictly within this one's.
bool holds_another(hwloc_obj_t numa, const std::vector<hwloc_obj_t>& all) {
  return std::any_of(all.begin(), all.end(), [&](hwloc_obj_t other) {
    return hwloc_bitmap_isincluded(other->cpuset, numa->cpuset) && !hwloc_bitmap_isequal(other->cpuset, numa->cpuset);
  });
}

DeviceRecord cpu_record(hwloc_topology_t topology, DeviceKind kind, hwloc_const_cpuset_t cpuset) {
  Locality where = locality_of(topology, cpuset);
  DeviceRecord record;
  record.device = {kind, 0, where.package, where.numa, to_list_string(cpuset), -1, "", where.groups,
                   local_memory_share(topology, kind, cpuset), ""};
  record.cache = outer_cache(topology, cpuset);
  return record;
}

// NUMA nodes with PUs, one per distinct cpuset: memory-only nodes have no cores to run a
// rank, and hwloc attaches several memory kinds (DRAM, MCDRAM, HBM) to one locality. A node
// whose PUs hold another's (memory attached above several localities) is no device either.
std::vector<hwloc_obj_t> numa_localities(hwloc_topology_t topology) {
  std::vector<hwloc_obj_t> all = objects_of(topology, HWLOC_OBJ_NUMANODE), localities;
  for (hwloc_obj_t numa : all) {
    bool seen = std::any_of(localities.begin(), localities.end(), [&](hwloc_obj_t other) {
      return hwloc_bitmap_isequal(other->cpuset, numa->cpuset);
    });
    if (!seen && !holds_another(numa, all)) localities.push_back(numa);
  }
  return localities;
}

int devices_within(hwloc_topology_t topology, DeviceKind kind, hwloc_const_cpuset_t cpuset) {
  switch (kind) {
    case DeviceKind::core:
      return hwloc_get_nbobjs_inside_cpuset_by_type(topology, cpuset, HWLOC_OBJ_CORE);
    case DeviceKind::package:
      return hwloc_get_nbobjs_inside_cpuset_by_type(topology, cpuset, HWLOC_OBJ_PACKAGE);
    case DeviceKind::numa: {
      std::vector<hwloc_obj_t> localities = numa_localities(topology);
      return static_cast<int>(std::count_if(localities.begin(), localities.end(), [&](hwloc_obj_t numa) {
        return hwloc_bitmap_isincluded(numa->cpuset, cpuset);
      }));
    }
    case DeviceKind::gpu:
    case DeviceKind::node:
      return 1;
  }
  return 1;
}

// Exports of hwloc 2.0 show a Knights Landing's MCDRAM cache as an L3 with this subtype;
// later hwloc makes it a MemCache, which is memory, not a CPU cache (hwloc docs,
// "Memory-side caches"): it caches the memory, not the cores' data for each other.
bool is_memory_side(hwloc_obj_t cache) {
  return cache->subtype && std::string(cache->subtype) == "MemorySideCache";
}

// The allowed PUs of the nearest object, from `obj` up, that has any.
hwloc_const_cpuset_t nearest_allowed_cpuset(hwloc_topology_t topology, hwloc_obj_t obj) {
  for (; obj; obj = obj->parent)
    if (obj->cpuset && !hwloc_bitmap_iszero(obj->cpuset)) return obj->cpuset;
  return hwloc_topology_get_allowed_cpuset(topology);
}

}  // namespace

Locality locality_of_object(hwloc_topology_t topology, hwloc_obj_t obj) {
  Locality where;
  if (hwloc_obj_t package = obj->type == HWLOC_OBJ_PACKAGE ? obj : hwloc_get_ancestor_obj_by_type(topology, HWLOC_OBJ_PACKAGE, obj))
    where.package = static_cast<int>(package->logical_index);
  for (int depth : group_depths(topology)) {
    hwloc_obj_t group = ancestor_at_depth(topology, depth, obj);
    where.groups.push_back(group ? static_cast<int>(group->logical_index) : -1);
  }
  for (hwloc_obj_t o = obj; o && where.numa < 0; o = o->parent) where.numa = first_numa(o->memory_first_child);
  return where;
}

Locality locality_of(hwloc_topology_t topology, hwloc_const_cpuset_t cpuset) {
  hwloc_obj_t covering = hwloc_bitmap_iszero(cpuset) ? nullptr : hwloc_get_obj_covering_cpuset(topology, cpuset);
  return locality_of_object(topology, covering ? covering : hwloc_get_root_obj(topology));
}

std::int64_t local_memory_share(hwloc_topology_t topology, DeviceKind kind, hwloc_const_cpuset_t cpuset) {
  std::int64_t share = 0;
  if (hwloc_bitmap_iszero(cpuset)) return share;
  for (hwloc_obj_t numa : objects_of(topology, HWLOC_OBJ_NUMANODE)) {
    auto bytes = static_cast<std::int64_t>(numa->attr->numanode.local_memory);
    if (hwloc_bitmap_isincluded(numa->cpuset, cpuset)) {
      share += bytes;  // the device holds all the PUs local to it
    } else if (hwloc_bitmap_isincluded(cpuset, numa->cpuset)) {
      share += bytes / std::max(1, devices_within(topology, kind, numa->cpuset));
    }
  }
  return share;
}

std::string outer_cache(hwloc_topology_t topology, hwloc_const_cpuset_t cpuset) {
  hwloc_obj_t outer = nullptr;
  if (hwloc_bitmap_iszero(cpuset)) return {};
  for (hwloc_obj_t o = hwloc_get_obj_covering_cpuset(topology, cpuset); o; o = o->parent)
    if (hwloc_obj_type_is_cache(o->type) && !is_memory_side(o)) outer = o;
  if (!outer) return {};
  char type[64];
  hwloc_obj_type_snprintf(type, sizeof type, outer, 0);
  return std::string(type) + " L#" + std::to_string(outer->logical_index);
}

DeviceRecord gpu_record(hwloc_topology_t topology, int index) {
  std::vector<Gpu> gpus = find_gpus(topology);
  const Gpu& gpu = gpus.at(index);
  // Placed by the tree, not by its cpuset, which is empty where the host's PUs are all
  // disallowed (and an empty set lies within every package).
  hwloc_obj_t host = hwloc_get_non_io_ancestor_obj(topology, gpu.pci);
  Locality where = locality_of_object(topology, host);
  DeviceRecord record;
  record.device = {DeviceKind::gpu, 0, where.package, where.numa,
                   to_list_string(nearest_allowed_cpuset(topology, host)), index, gpu.pci_bus_id, where.groups,
                   gpu.memory_bytes, gpu.model};
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
    throw Error("device kind " + to_string(kind) + ": " + where + " has no " + to_string(kind) +
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
