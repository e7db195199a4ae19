#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "launcher/hash.h"
#include "launcher/topology.h"

namespace spmd::launcher {
namespace {

// What a device is and where it sits, without its memory: the memory a node reports can
// change while the machine does not (a VM here onlined more of it after boot, and a profile
// taken then no longer matched the topology 15 minutes later).
std::string device_shape(const Device& d) {
  std::string groups;
  for (int g : d.groups) groups += std::to_string(g) + ",";
  return to_string(d.kind) + "|" + std::to_string(d.package) + "|" + std::to_string(d.numa) + "|" + d.cpuset +
         "|" + std::to_string(d.gpu) + "|" + d.pci_bus_id + "|" + groups;
}

void add_levels(Fnv1a& hash, const Topology& topology) {
  for (const Level& level : topology.levels()) {
    hash.add(level.name).add(std::int64_t{level.groups}).add(std::int64_t{level.fanout});
    hash.add(std::int64_t{level.uniform}).add(to_string(level.link_kind));
    hash.add(level.link.latency_s).add(level.link.bandwidth_Bps);
  }
}

}  // namespace

std::string fingerprint(const Topology& topology) {
  // Each node as the sorted list of its devices, the nodes sorted: what stays when ranks
  // (and with them device ids and node indexes) are numbered differently.
  std::vector<std::vector<std::string>> nodes(topology.num_nodes());
  for (const Device& d : topology.devices()) nodes.at(d.node).push_back(device_shape(d));
  for (auto& node : nodes) std::sort(node.begin(), node.end());
  std::sort(nodes.begin(), nodes.end());
  Fnv1a hash;
  for (const auto& node : nodes) {
    hash.add(std::int64_t(node.size()));
    for (const std::string& device : node) hash.add(device);
  }
  add_levels(hash, topology);
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash.value()));
  return text;
}

std::uint64_t content_hash(const Topology& topology) {
  Fnv1a hash;
  for (const std::string& name : topology.node_names()) hash.add(name);
  for (const Device& d : topology.devices()) {
    hash.add(std::int64_t{d.node}).add(device_shape(d)).add(static_cast<std::int64_t>(d.memory_bytes));
  }
  add_levels(hash, topology);
  for (size_t l = 0; l < topology.levels().size(); ++l)
    for (int d = 0; d < topology.num_devices(); ++d) hash.add(std::int64_t{topology.group_of(l, d)});
  return hash.value();
}

}  // namespace spmd::launcher
