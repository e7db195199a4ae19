// The GPUs of one node as hwloc sees them, and the NVLink bandwidth between them.
//
// A GPU is a compute device from NVIDIA or AMD (the vendors the runtime drives), counted once
// by its PCI device whether hwloc hangs OS devices under it ("nvml0", "cuda0": builds with
// the vendor plugins) or not (Debian's hwloc). See is_compute_gpu for the rule.
#pragma once

#include <hwloc.h>

#include <cstdint>
#include <string>
#include <vector>

namespace spmd::launcher {

struct Gpu {
  hwloc_obj_t pci = nullptr;  // the PCI device
  std::string pci_bus_id;     // "0000:34:00.0"
  std::string uuid;           // "GPU-..." where the NVML plugin reports it, else empty
  double pcie_Bps = 0;        // PCIe link speed from hwloc, 0 when unknown
  std::int64_t memory_bytes = 0;  // from the CUDA or OpenCL backend of hwloc, 0 when unknown
  std::string model;              // hwloc's "GPUModel" ("Tesla V100-SXM3-32GB-H"), else empty
};

// What decides whether a PCI device is a GPU.
struct PciFacts {
  unsigned vendor_id = 0;
  unsigned class_id = 0;          // PCI class and subclass, 0x0302
  double link_GBps = 0;           // hwloc's pcidev.linkspeed: 0 for legacy PCI or unknown
  bool compute_backend = false;   // hwloc's CUDA, OpenCL, NVML, RSMI or Level Zero sees it
};

// True for a compute GPU of NVIDIA or AMD: one that a compute backend of hwloc reports (they
// list only devices that run kernels); else a PCI 3D controller (class 0x0302: boards with no
// display output, as Tesla, A100, H100) or other display controller (0x0380: AMD Instinct);
// else a VGA device (0x0300: GeForce, Radeon) on a link of at least 2 GB/s, more than one
// PCIe 4.0 lane. Class codes: PCI Code and ID Assignment Specification, base class 03h. The
// link rule keeps out server boards' display chips, VGA devices of these vendors on legacy
// PCI or on one lane (the ATI ES1000, 1002:515e, at 0 or 0.25 GB/s): as ranks they would run
// nothing and make every GPU level's PCIe figure theirs.
bool is_compute_gpu(const PciFacts& pci);

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
