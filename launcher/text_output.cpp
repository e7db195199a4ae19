// `spmd topo` output: the tree as lstopo prints one, with identical sibling subtrees
// printed once, so that a thousand identical nodes take one line after the first.
#include <cstdio>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "launcher/hash.h"
#include "launcher/topology.h"

namespace spmd::launcher {
namespace {

struct TreeNode {
  int level = 0;             // index into levels(); levels().size() for a device
  std::vector<int> devices;  // the devices under it, in id order
  std::vector<TreeNode> children;
  std::uint64_t shape = 0;  // equal for subtrees that print the same but for indexes
};

// ", 3.0 GiB" where the memory is known.
std::string memory_text(std::int64_t bytes) {
  if (bytes <= 0) return "";
  char text[32];
  std::snprintf(text, sizeof text, ", %.1f GiB", static_cast<double>(bytes) / (1 << 30));
  return text;
}

std::string device_text(const Device& d) {
  if (d.kind == DeviceKind::gpu)
    return "GPU " + std::to_string(d.gpu) + " (PCI " + d.pci_bus_id + ", cpuset " + d.cpuset +
           memory_text(d.memory_bytes) + ")";
  return to_string(d.kind) + " (cpuset " + d.cpuset + memory_text(d.memory_bytes) + ")";
}

std::uint64_t device_shape(const Device& d) {
  return Fnv1a()
      .add(to_string(d.kind))
      .add(std::int64_t{d.package})
      .add(std::int64_t{d.numa})
      .add(d.cpuset)
      .add(std::int64_t{d.gpu})
      .add(d.pci_bus_id)
      .add(d.memory_bytes)
      .value();
}

TreeNode build(const Topology& t, int level, std::vector<int> devices) {
  TreeNode node{level, std::move(devices), {}, 0};
  int levels = static_cast<int>(t.levels().size());
  Fnv1a shape;
  shape.add(std::int64_t{level});
  if (level == levels) {
    node.shape = device_shape(t.device(node.devices.front()));
    return node;
  }
  std::vector<std::vector<int>> parts;  // children in order of their first device
  std::unordered_map<int, size_t> part_of_group;
  for (int d : node.devices) {
    int key = level + 1 < levels ? t.group_of(level + 1, d) : d;
    auto [it, is_new] = part_of_group.try_emplace(key, parts.size());
    if (is_new) parts.emplace_back();
    parts[it->second].push_back(d);
  }
  for (auto& part : parts) {
    node.children.push_back(build(t, level + 1, std::move(part)));
    shape.add(static_cast<std::int64_t>(node.children.back().shape));
  }
  node.shape = shape.value();
  return node;
}

std::string group_label(const Topology& t, const TreeNode& node) {
  const Device& first = t.device(node.devices.front());
  const std::string& name = t.levels()[node.level].name;
  if (name == "cluster") return "Cluster (" + std::to_string(t.num_nodes()) + " nodes)";
  if (name == "node")
    return "Node " + std::to_string(first.node) + " \"" + t.node_names().at(first.node) + "\"";
  auto index = [](int i) { return i < 0 ? std::string("(none)") : "L#" + std::to_string(i); };
  if (name == "package") return "Package " + index(first.package);
  if (name == "numa") return "NUMANode " + index(first.numa);
  // "group1": hwloc's Group1, the device's Group at the second Group depth of its node.
  size_t depth = std::stoul(name.substr(std::string_view("group").size()));
  return "Group" + std::to_string(depth) + " " + index(depth < first.groups.size() ? first.groups[depth] : -1);
}

std::string label(const Topology& t, const TreeNode& node) {
  if (node.level == static_cast<int>(t.levels().size()))
    return "device " + std::to_string(node.devices.front()) + ": " +
           device_text(t.device(node.devices.front()));
  return group_label(t, node);
}

void print(const Topology& t, const TreeNode& node, int depth, std::ostringstream& out) {
  std::string indent(2 * depth, ' ');
  out << indent << label(t, node) << "\n";
  const auto& kids = node.children;
  for (size_t i = 0; i < kids.size();) {
    size_t same = i + 1;
    while (same < kids.size() && kids[same].shape == kids[i].shape) ++same;
    print(t, kids[i], depth + 1, out);
    if (same - i > 1) {
      size_t devices = 0;
      for (size_t k = i + 1; k < same; ++k) devices += kids[k].devices.size();
      out << indent << "  + " << same - i - 1 << " more like it: " << label(t, kids[i + 1]);
      if (same - i > 2) out << " .. " << label(t, kids[same - 1]);
      out << " (" << devices << " devices)\n";
    }
    i = same;
  }
}

std::string level_line(const Level& level) {
  char line[160];
  std::string fanout = (level.uniform ? "" : "up to ") + std::to_string(level.fanout);
  std::snprintf(line, sizeof line, "  %-8s %6d x %-10s %-14s %9.1f Gbit/s (%7.1f GB/s) %7.2f us\n",
                level.name.c_str(), level.groups, fanout.c_str(), to_string(level.link_kind).c_str(),
                level.link.bandwidth_Bps * 8 / 1e9, level.link.bandwidth_Bps / 1e9,
                level.link.latency_s * 1e6);
  return line;
}

}  // namespace

std::string to_text(const Topology& topology) {
  std::ostringstream out;
  if (topology.num_devices() == 0) return "Topology: no devices\n";
  out << "Topology: " << topology.num_nodes() << " node(s), " << topology.num_devices() << " devices ("
      << to_string(topology.device(0).kind) << "), fingerprint " << fingerprint(topology) << "\n";
  out << "Levels, top down (groups x fanout; link between two devices that meet there):\n";
  for (const Level& level : topology.levels()) out << level_line(level);
  std::vector<int> all(topology.num_devices());
  for (int d = 0; d < topology.num_devices(); ++d) all[d] = d;
  if (topology.levels().empty()) {
    out << "  (none: a single device)\n";
    out << "device 0: " << device_text(topology.device(0)) << "\n";
    return out.str();
  }
  print(topology, build(topology, 0, std::move(all)), 0, out);
  return out.str();
}

}  // namespace spmd::launcher
