// Simulated clusters: one node read with hwloc, repeated behind the network.
#include "common/error.h"
#include "launcher/assemble.h"
#include "launcher/hwloc_handle.h"
#include "launcher/node_devices.h"
#include "launcher/topology.h"

namespace spmd::launcher {

Topology load_topology(const TopologySource& source) {
  if (source.nodes < 1) throw Error("a cluster needs at least one node, not " + std::to_string(source.nodes));
  HwlocTopology node = load_hwloc_topology(source.spec);
  DeviceKind kind = source.device.value_or(default_device_kind(node.get()));
  std::string where = source.spec == "local" ? "this machine" : "'" + source.spec + "'";
  std::vector<DeviceRecord> one_node = node_devices(node.get(), kind, where);

  // Past this, planning is not what stops the job: building the tree would exhaust memory.
  constexpr size_t kMaxDevices = size_t{1} << 22;
  if (one_node.size() * static_cast<size_t>(source.nodes) > kMaxDevices) {
    throw Error(std::to_string(source.nodes) + " nodes of " + std::to_string(one_node.size()) +
                " devices are more than the " + std::to_string(kMaxDevices) + " devices a topology may have");
  }
  std::vector<DeviceRecord> records;
  records.reserve(one_node.size() * source.nodes);
  std::vector<std::string> node_names;
  for (int n = 0; n < source.nodes; ++n) {
    node_names.push_back("node" + std::to_string(n));
    for (DeviceRecord record : one_node) {
      record.device.node = n;
      records.push_back(std::move(record));
    }
  }
  return assemble_topology(records, std::move(node_names), source.network);
}

}  // namespace spmd::launcher
