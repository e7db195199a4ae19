// Assembly of the tree from a flat list of devices: the step shared by load_topology (one
// node repeated) and discover_job (one device per rank, gathered over MPI).
#pragma once

#include <string>
#include <vector>

#include "launcher/topology.h"

namespace spmd::launcher {

// A device with what its links need to know beyond the tree.
struct DeviceRecord {
  Device device;
  // GPUs: NVLink bandwidth to each GPU of the same node, by Device::gpu (0: no NVLink).
  std::vector<double> nvlink_Bps;
  bool nvlink_through_switch = false;
  double pcie_Bps = 0;  // GPUs: PCIe link speed, 0 when unknown
  std::string cache;    // CPU devices: outermost CPU cache holding them all ("L3 L#0"), or empty
};

// Groups the devices by node, package and NUMA node (NUMA above package where the node
// nests them that way), folds the levels whose groups all have a single child, and gives
// each level the worst link model of the device pairs that meet there. Device i of the
// result is records[i]. `node_names[d.node]` names each device's node. O(n log n) plus
// O(pairs of GPUs within a node).
Topology assemble_topology(const std::vector<DeviceRecord>& records, std::vector<std::string> node_names,
                           LinkModel network);

}  // namespace spmd::launcher
