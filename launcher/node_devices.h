// The devices of one node, read from its hwloc topology.
#pragma once

#include <hwloc.h>

#include <optional>
#include <string>
#include <vector>

#include "launcher/assemble.h"
#include "launcher/topology.h"

namespace spmd::launcher {

// Where a set of PUs sits: the package and the nearest NUMA node holding all of it
// (hwloc logical indexes, -1 where it spans several).
struct Locality {
  int package = -1;
  int numa = -1;
};
Locality locality_of(hwloc_topology_t topology, hwloc_const_cpuset_t cpuset);

// Every device of `kind` on the node, in hwloc's logical order, with node index 0:
// each allowed core, each NUMA locality with PUs (NUMA nodes sharing one cpuset, like
// DRAM and MCDRAM on a Knights Landing, are one device), each package with PUs, each GPU,
// or the whole node. Throws spmd::Error, saying what the node has, when it has no
// device of that kind.
std::vector<DeviceRecord> node_devices(hwloc_topology_t topology, DeviceKind kind, const std::string& where);

// GPU where the node has GPUs, else NUMA node.
DeviceKind default_device_kind(hwloc_topology_t topology);

// "2 packages, 4 NUMA nodes, 28 cores, 0 GPUs": for error messages.
std::string describe_node(hwloc_topology_t topology);

// The record of GPU `index` (into find_gpus' list) with its NVLink row; its cpuset is the
// GPU's local cores.
DeviceRecord gpu_record(hwloc_topology_t topology, int index);

}  // namespace spmd::launcher
