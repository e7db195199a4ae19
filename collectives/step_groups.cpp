#include "collectives/step_groups.h"

#include <algorithm>
#include <map>

namespace spmd::collectives {

StepGroups step_groups(const launcher::Topology& t, std::span<const int> devices, int outer_level, int inner_level) {
  StepGroups g;
  g.outer_level = outer_level;
  g.inner_level = inner_level;
  const int n = static_cast<int>(devices.size());
  const bool deepest = inner_level + 1 >= static_cast<int>(t.levels().size());
  // Place below inner_level: the rank's index among the ranks of its group one level down.
  std::map<int, int> seen_below;
  std::vector<int> below(n, 0);
  for (int r = 0; r < n; ++r) below[r] = deepest ? 0 : seen_below[t.group_of(inner_level + 1, devices[r])]++;
  std::map<std::pair<int, int>, int> color_of;
  std::map<int, int> size_of;
  g.color.resize(n);
  g.key.resize(n);
  for (int r = 0; r < n; ++r) {
    auto id = std::make_pair(t.group_of(outer_level, devices[r]), below[r]);
    auto [it, fresh] = color_of.emplace(id, static_cast<int>(color_of.size()));
    g.color[r] = it->second;
    g.key[r] = size_of[it->second]++;
  }
  for (auto [color, size] : size_of) g.group_size = std::max(g.group_size, size);
  for (auto [color, size] : size_of) g.uniform = g.uniform && size == g.group_size;
  // Members of one group that share a child of the outer level (they leave it together).
  const bool outer_is_deepest = outer_level + 1 >= static_cast<int>(t.levels().size());
  std::map<std::pair<int, int>, int> per_child;
  for (int r = 0; r < n; ++r) {
    int child = outer_is_deepest ? devices[r] : t.group_of(outer_level + 1, devices[r]);
    g.members_per_child = std::max(g.members_per_child, ++per_child[{g.color[r], child}]);
  }
  int max_below = 0;
  for (int b : below) max_below = std::max(max_below, b + 1);
  g.groups_per_child = max_below;
  return g;
}

}  // namespace spmd::collectives
