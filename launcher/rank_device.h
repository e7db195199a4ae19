// The device one rank of the live job drives: its binding, and on a GPU node its GPU.
#pragma once

#include <hwloc.h>

#include <optional>
#include <string>

#include "launcher/assemble.h"

namespace spmd::launcher {

// The PUs this process is bound to (hwloc_get_cpubind), within the allowed ones; all the
// allowed PUs when it is not bound.
std::string process_binding(hwloc_topology_t topology);

// This rank's device on its node, node index 0. With `kind` unset: its GPU where the node
// has visible GPUs, else what its binding covers (one core, one NUMA node, one package, or
// the node). A GPU rank takes visible GPU number `local_rank` (the only one when
// CUDA_VISIBLE_DEVICES names exactly one: a per-rank assignment), and keeps its own binding
// as cpuset. Throws spmd::Error when the node lacks GPUs for the rank.
DeviceRecord rank_device(hwloc_topology_t topology, int local_rank, std::optional<DeviceKind> kind,
                         const char* cuda_visible_devices);

}  // namespace spmd::launcher
