// Owning handles for hwloc objects, and loading one node's topology from where it is
// described: this machine, an XML export, or a synthetic string.
#pragma once

#include <hwloc.h>

#include <memory>
#include <string>

namespace spmd::launcher {

struct HwlocTopologyDeleter {
  void operator()(hwloc_topology_t topology) const { hwloc_topology_destroy(topology); }
};
using HwlocTopology = std::unique_ptr<hwloc_topology, HwlocTopologyDeleter>;

struct HwlocBitmapDeleter {
  void operator()(hwloc_bitmap_t bitmap) const { hwloc_bitmap_free(bitmap); }
};
using HwlocBitmap = std::unique_ptr<hwloc_bitmap_s, HwlocBitmapDeleter>;

// Loads "local" (this machine), "FILE.xml" or "synthetic:DESCRIPTION" with I/O devices
// kept (GPUs, network cards), disallowed and offline PUs left out as hwloc does by default,
// and the tiers of the NUMA latency matrix made Group objects as hwloc does on Linux.
// Throws spmd::Error naming the file or string when hwloc cannot read it.
HwlocTopology load_hwloc_topology(const std::string& spec);

// The bitmap in hwloc's list syntax, "0-3,8".
std::string to_list_string(hwloc_const_bitmap_t bitmap);

}  // namespace spmd::launcher
