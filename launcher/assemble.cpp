#include "launcher/assemble.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <string_view>
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

constexpr std::string_view kGroupPrefix = "group";

// "group2" -> 2; -1 for the other level names.
int group_depth_of(const std::string& level) {
  if (!level.starts_with(kGroupPrefix)) return -1;
  return std::stoi(level.substr(kGroupPrefix.size()));
}

int field(const Device& device, const std::string& level) {
  if (level == "node") return device.node;
  if (level == "package") return device.package;
  if (level == "numa") return device.numa;
  if (int k = group_depth_of(level); k >= 0) return k < static_cast<int>(device.groups.size()) ? device.groups[k] : -1;
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

// The node's own levels that some device has: hwloc's Group depths, package, NUMA node.
std::vector<std::string> present_levels(const std::vector<DeviceRecord>& records) {
  auto any = [&](const std::string& level) {
    return std::any_of(records.begin(), records.end(),
                       [&](const DeviceRecord& r) { return field(r.device, level) >= 0; });
  };
  size_t depths = 0;
  for (const DeviceRecord& r : records) depths = std::max(depths, r.device.groups.size());
  std::vector<std::string> levels;
  for (size_t k = 0; k < depths; ++k)
    if (std::string name = std::string(kGroupPrefix) + std::to_string(k); any(name)) levels.push_back(name);
  for (const char* name : {"package", "numa"})
    if (any(name)) levels.emplace_back(name);
  return levels;
}

// cluster > node > the node's levels, each above those that nest in it and not the other
// way: groups above packages on machines with tiers of packages, below them on
// Cluster-on-Die packages; NUMA above package where several dies share one memory
// controller. Adjacent swaps of strictly nested pairs; levels nested both ways (the same
// partition) keep their order and fold into one.
std::vector<std::string> level_order(const std::vector<DeviceRecord>& records) {
  std::vector<std::string> own = present_levels(records);
  for (size_t pass = 0; pass < own.size(); ++pass)
    for (size_t i = 0; i + 1 < own.size(); ++i)
      if (nests_in(records, own[i], own[i + 1]) && !nests_in(records, own[i + 1], own[i]))
        std::swap(own[i], own[i + 1]);
  std::vector<std::string> order{"cluster", "node"};
  order.insert(order.end(), own.begin(), own.end());
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

// True when the devices of every group at `level` share one CPU cache.
bool groups_share_a_cache(const std::vector<DeviceRecord>& records, const CandidateLevel& level) {
  std::map<int, std::string> cache_of;
  for (size_t d = 0; d < records.size(); ++d) {
    const std::string& cache = records[d].cache;
    auto [it, inserted] = cache_of.try_emplace(level.group_of[d], cache);
    if (cache.empty() || it->second != cache) return false;
  }
  return true;
}

int name_rank(const std::string& name) {
  if (name == "node") return 4;
  if (name == "package") return 3;
  if (name == "numa") return 2;
  if (group_depth_of(name) >= 0) return 1;
  return 0;
}

// What the children of level l's groups are: the most telling name among the levels that
// split the devices as level l+1 does (those below it with a single child each, down to
// the devices themselves), or "device" where the children are the devices.
std::string children_name(const std::vector<CandidateLevel>& levels, size_t l) {
  auto single = [&](size_t k) {
    return std::all_of(levels[k].children.begin(), levels[k].children.end(), [](int c) { return c == 1; });
  };
  if (l + 1 == levels.size()) return "device";
  std::string best = levels[l + 1].name;
  for (size_t k = l + 1; k < levels.size() && single(k); ++k)
    if (k + 1 < levels.size() && name_rank(levels[k + 1].name) > name_rank(best)) best = levels[k + 1].name;
  return best;
}

// What crossing from one child of a group to another means for CPU devices, by what the
// children are: nodes (network), packages, NUMA nodes, hwloc Groups (a tier of packages or
// NUMA nodes beyond the socket interconnect; a die or cluster within a package; or part of
// one NUMA node), or the devices themselves (a shared cache where there is one).
LinkKind cpu_link_kind(const std::vector<DeviceRecord>& records, const std::vector<CandidateLevel>& levels,
                       size_t l) {
  std::string below = children_name(levels, l);
  if (below == "device")
    return groups_share_a_cache(records, levels[l]) ? LinkKind::shared_cache : LinkKind::shared_memory;
  if (below == "package") return LinkKind::cross_package;
  if (below == "numa") return LinkKind::cross_numa;
  auto above = [&](const char* name) {
    return std::any_of(levels.begin(), levels.begin() + l + 1, [&](const CandidateLevel& c) { return c.name == name; });
  };
  if (above("numa")) return LinkKind::shared_memory;
  return above("package") ? LinkKind::cross_numa : LinkKind::cross_group;
}

// Between nodes: the network. Within a node, CPU devices meeting at a level are told
// apart by what the level's children are (cpu_link_kind), GPUs by their links.
void add_links(const std::vector<DeviceRecord>& records, std::vector<CandidateLevel>& levels,
               LinkModel network) {
  bool cpu_devices = std::any_of(records.begin(), records.end(),
                                 [](const DeviceRecord& r) { return r.device.kind != DeviceKind::gpu; });
  for (size_t l = 0; l < levels.size(); ++l) {
    if (l + 1 < levels.size() && levels[l + 1].name == "node") {
      levels[l].link = {LinkKind::network, network};
    } else if (cpu_devices) {
      LinkKind kind = cpu_link_kind(records, levels, l);
      keep_worst(levels[l].link, kind, default_link(kind));
    }
  }
  add_gpu_links(records, levels);
}

// A transfer between devices that meet at a level crosses the links of the levels below it
// as well (leaving a package crosses the dies within it), so no level is faster or of
// lower latency than the one below: the default figures per link kind need not rank the
// same way on every machine (cross-NUMA above cross-package, where NUMA nodes hold dies).
void make_monotone(std::vector<Level>& levels) {
  for (size_t l = levels.size(); l-- > 1;) {
    LinkModel& above = levels[l - 1].link;
    const LinkModel& below = levels[l].link;
    above.bandwidth_Bps = std::min(above.bandwidth_Bps, below.bandwidth_Bps);
    above.latency_s = std::max(above.latency_s, below.latency_s);
  }
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
    levels.push_back({c.name, static_cast<int>(c.children.size()), *high, *low == *high, kind, model, {}});
    group_of.push_back(std::move(c.group_of));
  }
  make_monotone(levels);
  std::vector<Device> devices;
  devices.reserve(records.size());
  for (const DeviceRecord& r : records) devices.push_back(r.device);
  return Topology(std::move(devices), std::move(node_names), std::move(levels), std::move(group_of));
}

}  // namespace spmd::launcher
