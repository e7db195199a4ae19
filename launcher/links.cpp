// Default link figures by kind. Rough values for current hardware, to be replaced by
// measured ones: they only need to rank the levels correctly for the partitioner.
#include <stdexcept>

#include "launcher/topology.h"

namespace spmd::launcher {

LinkModel default_link(LinkKind kind) {
  switch (kind) {
    case LinkKind::shared_cache:
      return {0.1e-6, 100e9};  // cores sharing a CPU cache (an L2 or L3 holding them all)
    case LinkKind::shared_memory:
      return {0.2e-6, 75e9};  // cores of one NUMA node, through its memory
    case LinkKind::cross_numa:
      return {0.3e-6, 50e9};  // between NUMA nodes of one package
    case LinkKind::cross_package:
      return {0.6e-6, 30e9};  // socket interconnect (UPI, xGMI)
    case LinkKind::cross_group:
      return {1.2e-6, 15e9};  // a further hop: node controllers, a second socket-interconnect tier
    case LinkKind::pcie:
      return {2e-6, 12e9};  // PCIe 3.0 x16, through the host
    case LinkKind::nvlink:
      return {1e-6, 25e9};  // one NVLink 2.0 brick
    case LinkKind::nvswitch:
      return {1e-6, 150e9};  // V100 on a DGX-2's NVSwitches
    case LinkKind::network:
      return {2e-6, 100e9 / 8};  // 100 Gbit/s
  }
  throw std::logic_error("unknown link kind");
}

std::string to_string(LinkKind kind) {
  switch (kind) {
    case LinkKind::shared_cache:
      return "shared-cache";
    case LinkKind::shared_memory:
      return "shared-memory";
    case LinkKind::cross_numa:
      return "cross-numa";
    case LinkKind::cross_package:
      return "cross-package";
    case LinkKind::cross_group:
      return "cross-group";
    case LinkKind::pcie:
      return "pcie";
    case LinkKind::nvlink:
      return "nvlink";
    case LinkKind::nvswitch:
      return "nvswitch";
    case LinkKind::network:
      return "network";
  }
  throw std::logic_error("unknown link kind");
}

}  // namespace spmd::launcher
