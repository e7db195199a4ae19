// Internal: which ranks of a collective form the groups of a step spanning a run of
// topology levels, shared by synthesis (group sizes) and execution (communicator splits).
#pragma once

#include <span>
#include <vector>

#include "launcher/topology.h"

namespace spmd::collectives {

struct StepGroups {
  int outer_level = 0, inner_level = 0;
  std::vector<int> color;   // per rank of the collective: which group it joins
  std::vector<int> key;     // per rank: its place in that group
  int group_size = 0;       // the largest group's size
  int groups_per_child = 1; // groups with members in one child of the outer level
  int members_per_child = 1; // members of one group inside one child of the outer level
  bool uniform = true;      // every group has group_size ranks
};

// Ranks in one group share their group at `outer_level` and their place below
// `inner_level` (their index among the collective's ranks in their group at the level
// below `inner_level`). O(n log n).
StepGroups step_groups(const launcher::Topology& t, std::span<const int> devices, int outer_level, int inner_level);

}  // namespace spmd::collectives
