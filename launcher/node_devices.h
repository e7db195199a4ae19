// The devices of one node, read from its hwloc topology.
#pragma once

#include <hwloc.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "launcher/assemble.h"
#include "launcher/topology.h"

namespace spmd::launcher {

// Where an object sits in hwloc's tree (hwloc logical indexes, -1 where there is none):
// its Package, its Group at each Group depth of the node (outermost first), and its
// nearest NUMA node, the first in logical order attached to it or to its nearest ancestor
// with memory (hwloc 2 attaches NUMA nodes as memory children of the object whose PUs are
// local to them; hwloc docs, "Memory children").
struct Locality {
  int package = -1;
  int numa = -1;
  std::vector<int> groups;
};
Locality locality_of_object(hwloc_topology_t topology, hwloc_obj_t obj);
// Where a set of PUs sits: the locality of the smallest object covering it (the whole node
// where it spans several packages or NUMA nodes, or is empty).
Locality locality_of(hwloc_topology_t topology, hwloc_const_cpuset_t cpuset);

// The memory of a device on the PUs `cpuset`, from the NUMA nodes local to them (memory-only
// ones, like MCDRAM or HBM, included): all of each NUMA node whose PUs it holds, and its
// share of each NUMA node that holds its PUs, split evenly among the node's devices of
// `kind` within that NUMA node's PUs. NUMA nodes without allowed PUs count for no device.
std::int64_t local_memory_share(hwloc_topology_t topology, DeviceKind kind, hwloc_const_cpuset_t cpuset);

// The outermost CPU cache holding all of `cpuset`, as lstopo names it ("L3 L#2"); empty
// where no cache holds it all.
std::string outer_cache(hwloc_topology_t topology, hwloc_const_cpuset_t cpuset);

// Every device of `kind` on the node, in hwloc's logical order, with node index 0:
// each allowed core, each NUMA locality with PUs (NUMA nodes sharing one cpuset, like
// DRAM and MCDRAM on a Knights Landing, are one device, and a NUMA node whose PUs hold
// another's is memory of the devices within it), each package with PUs, each GPU, or the
// whole node. Throws spmd::Error, saying what the node has, when it has no device of that
// kind.
std::vector<DeviceRecord> node_devices(hwloc_topology_t topology, DeviceKind kind, const std::string& where);

// GPU where the node has GPUs, else NUMA node.
DeviceKind default_device_kind(hwloc_topology_t topology);

// "2 packages, 4 NUMA nodes, 28 cores, 0 GPUs": for error messages.
std::string describe_node(hwloc_topology_t topology);

// The record of GPU `index` (into find_gpus' list) with its NVLink row. It sits where its
// PCI device hangs in hwloc's tree, and its cpuset is the allowed PUs of its nearest
// non-I/O ancestor that has any (the GPU's local cores, unless they are all disallowed).
DeviceRecord gpu_record(hwloc_topology_t topology, int index);

}  // namespace spmd::launcher
