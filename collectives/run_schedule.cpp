#include "collectives/run_schedule.h"

#include <algorithm>

#include "collectives/step_groups.h"
#include "common/error.h"

namespace spmd::collectives {

ScheduleRunner::ScheduleRunner(Communicator& group, const launcher::Topology& topology, std::vector<int> devices)
    : group_(group), topology_(topology), devices_(std::move(devices)) {
  if (static_cast<int>(devices_.size()) != group_.size()) {
    throw Error("a schedule over " + std::to_string(devices_.size()) + " devices cannot run on " +
                std::to_string(group_.size()) + " ranks");
  }
}

Communicator& ScheduleRunner::step_communicator(const Step& step) {
  auto key = std::make_pair(step.outer_level, step.inner_level);
  auto it = split_.find(key);
  if (it == split_.end()) {
    StepGroups g = step_groups(topology_, devices_, step.outer_level, step.inner_level);
    int me = group_.rank();
    it = split_.emplace(key, group_.split(g.color[me], g.key[me])).first;
  }
  return *it->second;
}

void ScheduleRunner::all_reduce(const Schedule& schedule, std::span<float> data, ReduceOp op) {
  if (schedule.collective != Primitive::all_reduce) throw Error("not an all-reduce schedule: " + schedule.name);
  // The slice this rank is responsible for, narrowed by each reduce-scatter and widened
  // back by the matching all-gather.
  struct Slice {
    size_t offset, count;
  };
  std::vector<Slice> widths;
  Slice mine{0, data.size()};
  // In the communicators' memory (the GPU's for NCCL), as large as the first slice can be.
  CommBuffer taken = group_.allocate(std::max<size_t>(data.size(), 1));
  std::span<float> scratch;
  for (const Step& step : schedule.steps) {
    Communicator& c = step_communicator(step);
    std::span<float> slice = data.subspan(mine.offset, mine.count);
    if (step.primitive == Primitive::all_reduce) {
      collectives::all_reduce(c, slice, op, step.algorithm);
    } else if (step.primitive == Primitive::reduce_scatter) {
      Partition part = partition(static_cast<int64_t>(mine.count), c.size());
      scratch = std::span<float>(taken.get(), static_cast<size_t>(part.count(c.rank())));
      collectives::reduce_scatter(c, slice, scratch, op, step.algorithm);
      widths.push_back(mine);
      mine = {mine.offset + static_cast<size_t>(part.offset(c.rank())), scratch.size()};
      c.copy(scratch, data.subspan(mine.offset, scratch.size()));
    } else if (step.primitive == Primitive::all_gather) {
      scratch = std::span<float>(taken.get(), slice.size());
      c.copy(slice, scratch);
      mine = widths.back();
      widths.pop_back();
      collectives::all_gather(c, scratch, data.subspan(mine.offset, mine.count), step.algorithm);
    } else {
      throw Error("an all-reduce schedule has no " + to_string(step.primitive) + " step");
    }
  }
}

}  // namespace spmd::collectives
