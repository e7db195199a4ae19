#include "launcher/assemble.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace spmd::launcher {
namespace {

// A level before folding: every device's group, and how many children each group has.
struct CandidateLevel {
  std::string name;
  std::vector<int> group_of;  // by device
  std::vector<int> children;  // by group
  std::optional<std::pair<LinkKind, LinkModel>> link;
};

int field(const Device& device, const std::string& level) {
  if (level == "node") return device.node;
  if (level == "package") return device.package;
  if (level == "numa") return device.numa;
  return 0;  // cluster
}

// True when every `inner` group (within a node) lies in a single `outer` group. Devices
// outside any inner or outer object (-1) say nothing either way.
bool nests_in(const std::vector<DeviceRecord>& records, const std::string& inner, const std::string& outer) {
  std::map<std::pair<int, int>, int> outer_of;
  for (const DeviceRecord& r : records) {
    int in = field(r.device, inner), out = field(r.device, outer);
    if (in < 0 || out < 0) continue;
    auto [it, inserted] = outer_of.try_emplace({r.device.node, in}, out);
    if (!inserted && it->second != out) return false;
  }
  return true;
}

// cluster > node > package > numa, with NUMA above package where packages nest in NUMA
// nodes and not the other way (several dies sharing one memory controller), and without
// the levels that no device has.
std::vector<std::string> level_order(const std::vector<DeviceRecord>& records) {
  auto any = [&](auto has) { return std::any_of(records.begin(), records.end(), has); };
  bool packages = any([](const DeviceRecord& r) { return r.device.package >= 0; });
  bool numas = any([](const DeviceRecord& r) { return r.device.numa >= 0; });
  std::vector<std::string> order{"cluster", "node"};
  if (packages && numas && nests_in(records, "package", "numa") && !nests_in(records, "numa", "package")) {
    order.insert(order.end(), {"numa", "package"});
  } else {
    if (packages) order.push_back("package");
    if (numas) order.push_back("numa");
  }
  return order;
}

std::vector<CandidateLevel> group_devices(const std::vector<DeviceRecord>& records) {
  std::vector<CandidateLevel> levels;
  std::vector<int> parent(records.size(), 0);
  for (const std::string& name : level_order(records)) {
    CandidateLevel level{name, std::vector<int>(records.size()), {}, {}};
    std::map<std::pair<int, int>, int> ids;  // (parent group, field) -> group
    for (size_t d = 0; d < records.size(); ++d) {
      auto key = std::pair(parent[d], field(records[d].device, name));
      level.group_of[d] = ids.try_emplace(key, static_cast<int>(ids.size())).first->second;
    }
    level.children.assign(ids.size(), 0);
    parent = level.group_of;
    levels.push_back(std::move(level));
  }
  for (size_t l = 0; l < levels.size(); ++l) {
    if (l + 1 == levels.size()) {
      for (int g : levels[l].group_of) ++levels[l].children[g];
      continue;
    }
    std::set<int> counted;  // child groups, each under exactly one parent group
    for (size_t d = 0; d < records.size(); ++d)
      if (counted.insert(levels[l + 1].group_of[d]).second) ++levels[l].children[levels[l].group_of[d]];
  }
  return levels;
}

void keep_worst(std::optional<std::pair<LinkKind, LinkModel>>& link, LinkKind kind, LinkModel model) {
  if (!link) {
    link = {kind, model};
    return;
  }
  double latency = std::max(link->second.latency_s, model.latency_s);
  if (model.bandwidth_Bps < link->second.bandwidth_Bps) link = {kind, model};
  link->second.latency_s = latency;
}

int lowest_common(const std::vector<CandidateLevel>& levels, int a, int b) {
  int common = 0;
  for (size_t l = 0; l < levels.size(); ++l)
    if (levels[l].group_of[a] == levels[l].group_of[b]) common = static_cast<int>(l);
  return common;
}

std::pair<LinkKind, LinkModel> gpu_pair_link(const DeviceRecord& a, const DeviceRecord& b) {
  double nvlink = a.nvlink_Bps.empty() ? 0 : a.nvlink_Bps.at(b.device.gpu);
  if (nvlink > 0) {
    LinkKind kind = a.nvlink_through_switch ? LinkKind::nvswitch : LinkKind::nvlink;
    return {kind, {default_link(kind).latency_s, nvlink}};
  }
  LinkModel pcie = default_link(LinkKind::pcie);
  if (a.pcie_Bps > 0 && b.pcie_Bps > 0) pcie.bandwidth_Bps = std::min(a.pcie_Bps, b.pcie_Bps);
  return {LinkKind::pcie, pcie};
}

// GPUs of one node talk over NVLink where hwloc reports it, else over PCIe: each pair
// counts at the level where the two meet.
void add_gpu_links(const std::vector<DeviceRecord>& records, std::vector<CandidateLevel>& levels) {
  std::map<int, std::vector<int>> gpus_by_node;
  for (size_t d = 0; d < records.size(); ++d)
    if (records[d].device.kind == DeviceKind::gpu)
      gpus_by_node[records[d].device.node].push_back(static_cast<int>(d));
  for (const auto& [node, gpus] : gpus_by_node)
    for (size_t i = 0; i < gpus.size(); ++i)
      for (size_t j = i + 1; j < gpus.size(); ++j) {
        const DeviceRecord& a = records[gpus[i]];
        const DeviceRecord& b = records[gpus[j]];
        if (a.device.gpu == b.device.gpu) continue;  // two ranks sharing one GPU
        auto [kind, model] = gpu_pair_link(a, b);
        keep_worst(levels[lowest_common(levels, gpus[i], gpus[j])].link, kind, model);
      }
}

// Between nodes: the network. Within a node, CPU devices meeting at a level are told
// apart by the level below it: different packages, NUMA nodes, or none (shared caches).
void add_links(const std::vector<DeviceRecord>& records, std::vector<CandidateLevel>& levels,
               LinkModel network) {
  bool cpu_devices = std::any_of(records.begin(), records.end(),
                                 [](const DeviceRecord& r) { return r.device.kind != DeviceKind::gpu; });
  for (size_t l = 0; l < levels.size(); ++l) {
    std::string below = l + 1 < levels.size() ? levels[l + 1].name : "device";
    if (below == "node") {
      levels[l].link = {LinkKind::network, network};
    } else if (cpu_devices) {
      LinkKind kind = below == "package" ? LinkKind::cross_package
                      : below == "numa"  ? LinkKind::cross_numa
                                         : LinkKind::shared_cache;
      keep_worst(levels[l].link, kind, default_link(kind));
    }
  }
  add_gpu_links(records, levels);
}

int name_rank(const std::string& name) {
  if (name == "node") return 3;
  if (name == "package") return 2;
  if (name == "numa") return 1;
  return 0;
}

// Drops the levels whose groups all have one child. The group then is its only child, and
// keeps the more telling of the two names (a single node is a "node", not a "cluster").
std::vector<CandidateLevel> fold_single_child_levels(std::vector<CandidateLevel> levels) {
  std::vector<CandidateLevel> kept;
  for (size_t l = 0; l < levels.size(); ++l) {
    bool single =
        std::all_of(levels[l].children.begin(), levels[l].children.end(), [](int c) { return c == 1; });
    if (!single) {
      kept.push_back(std::move(levels[l]));
    } else if (l + 1 < levels.size() && name_rank(levels[l].name) > name_rank(levels[l + 1].name)) {
      levels[l + 1].name = levels[l].name;
    }
  }
  return kept;
}

}  // namespace

Topology assemble_topology(const std::vector<DeviceRecord>& records, std::vector<std::string> node_names,
                           LinkModel network) {
  std::vector<CandidateLevel> candidates = group_devices(records);
  add_links(records, candidates, network);
  std::vector<Level> levels;
  std::vector<std::vector<int>> group_of;
  for (CandidateLevel& c : fold_single_child_levels(std::move(candidates))) {
    auto [low, high] = std::minmax_element(c.children.begin(), c.children.end());
    LinkKind kind = c.link ? c.link->first : LinkKind::shared_cache;
    LinkModel model = c.link ? c.link->second : default_link(kind);
    levels.push_back({c.name, static_cast<int>(c.children.size()), *high, *low == *high, kind, model});
    group_of.push_back(std::move(c.group_of));
  }
  std::vector<Device> devices;
  devices.reserve(records.size());
  for (const DeviceRecord& r : records) devices.push_back(r.device);
  return Topology(std::move(devices), std::move(node_names), std::move(levels), std::move(group_of));
}

}  // namespace spmd::launcher
