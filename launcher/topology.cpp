#include "launcher/topology.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "common/error.h"

namespace spmd::launcher {

Topology::Topology(std::vector<Device> devices, std::vector<std::string> node_names,
                   std::vector<Level> levels, std::vector<std::vector<int>> group_of)
    : devices_(std::move(devices)),
      node_names_(std::move(node_names)),
      levels_(std::move(levels)),
      group_of_(std::move(group_of)) {}

int Topology::common_level(int a, int b) const {
  if (a == b) return static_cast<int>(levels_.size());
  // Groups nest, so the devices share every level above the first where they part.
  int common = 0;
  for (size_t l = 0; l < levels_.size() && group_of_[l].at(a) == group_of_[l].at(b); ++l)
    common = static_cast<int>(l);
  return common;
}

LinkModel Topology::link_between(int a, int b) const {
  if (a == b) return {0.0, std::numeric_limits<double>::infinity()};
  return levels_.at(common_level(a, b)).link;
}

Topology Topology::with_links(const std::vector<LinkModel>& links) const {
  if (links.size() != levels_.size()) {
    throw Error("link figures for " + std::to_string(links.size()) + " levels, but the topology has " +
                std::to_string(levels_.size()));
  }
  Topology t = *this;
  for (size_t l = 0; l < links.size(); ++l) t.levels_[l].link = links[l];
  return t;
}

Topology Topology::with_algorithms(int level, std::vector<MeasuredAlgorithm> algorithms) const {
  Topology t = *this;
  t.levels_.at(static_cast<size_t>(level)).algorithms = std::move(algorithms);
  return t;
}

std::vector<int> Topology::levels_spanned(std::span<const int> device_ids) const {
  std::vector<int> spanned;
  for (size_t l = 0; l < levels_.size(); ++l) {
    // (group at l, child at l+1 or the device itself): spanned if a group has two children.
    std::vector<std::pair<int, int>> placed;
    for (int d : device_ids)
      placed.emplace_back(group_of_[l].at(d), l + 1 < levels_.size() ? group_of_[l + 1].at(d) : d);
    std::sort(placed.begin(), placed.end());
    placed.erase(std::unique(placed.begin(), placed.end()), placed.end());
    for (size_t i = 1; i < placed.size(); ++i)
      if (placed[i].first == placed[i - 1].first) {
        spanned.push_back(static_cast<int>(l));
        break;
      }
  }
  return spanned;
}

}  // namespace spmd::launcher
