// Runs a synthesized schedule: each step on the sub-communicator of its groups, split once
// from the collective's communicator and cached.
#pragma once

#include <map>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "collectives/communicator.h"
#include "collectives/schedule.h"
#include "launcher/topology.h"

namespace spmd::collectives {

class ScheduleRunner {
 public:
  // `group` has one rank per device of `devices` (rank i drives devices[i]).
  ScheduleRunner(Communicator& group, const launcher::Topology& topology, std::vector<int> devices);

  // All-reduce of `data` (in place) by `schedule`, which must be an all-reduce schedule
  // synthesized for this group. Collective over the group.
  void all_reduce(const Schedule& schedule, std::span<float> data, ReduceOp op);
  // Any flat schedule of another primitive: runs its single step on the whole group.
  Communicator& group() { return group_; }

 private:
  // The communicator of the step spanning levels outer..inner that this rank belongs to.
  Communicator& step_communicator(const Step& step);

  Communicator& group_;
  const launcher::Topology& topology_;
  std::vector<int> devices_;
  std::map<std::pair<int, int>, std::unique_ptr<Communicator>> split_;
};

}  // namespace spmd::collectives
