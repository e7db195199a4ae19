// The GPUs of one node as hwloc sees them, and the NVLink bandwidth between them.
//
// A GPU is a PCI device of class display (0x03xx) from NVIDIA or AMD: hwloc builds with the
// NVML or CUDA plugin hang OS devices ("nvml0", "cuda0") under it, Debian's hwloc has only
// the PCI device; both are counted once, by their PCI device.
#pragma once

#include <hwloc.h>

#include <string>
#include <vector>

namespace spmd::launcher {

struct Gpu {
  hwloc_obj_t pci = nullptr;  // the PCI device
  std::string pci_bus_id;     // "0000:34:00.0"
  std::string uuid;           // "GPU-..." where the NVML plugin reports it, else empty
  double pcie_Bps = 0;        // PCIe link speed from hwloc, 0 when unknown
};

// The node's GPUs in PCI bus order (the order of NVML and of CUDA_DEVICE_ORDER=PCI_BUS_ID).
std::vector<Gpu> find_gpus(hwloc_topology_t topology);

// NVLink bandwidth between the GPUs, bytes/s, indexed like `gpus` (0: no NVLink), from
// hwloc's "NVLinkBandwidth" distances; GPUs behind NVSwitches are connected through them by
// hwloc's own transitive closure (hwloc_distances_transform). Empty when there are none.
struct NvlinkMatrix {
  std::vector<std::vector<double>> bandwidth_Bps;
  bool through_switch = false;  // the links go through NVSwitches
};
NvlinkMatrix find_nvlink_bandwidth(hwloc_topology_t topology, const std::vector<Gpu>& gpus);

// The GPUs this process may use: `gpus` filtered and reordered by CUDA_VISIBLE_DEVICES
// (indexes or "GPU-" UUIDs); all of them when the variable is unset. Returns indexes into
// `gpus`. Throws spmd::Error for an entry that names no GPU of the node.
std::vector<int> visible_gpus(const std::vector<Gpu>& gpus, const char* cuda_visible_devices);

}  // namespace spmd::launcher
