// The simulator's step as a timeline: when each op and collective of a per-device program is
// predicted to start and how long it takes, for a trace to set beside the measured one.
#pragma once

#include <vector>

#include "ir/graph.h"
#include "partitioner/cost_model.h"
#include "partitioner/device_model.h"
#include "partitioner/lower.h"
#include "runtime/trace.h"

namespace spmd::runtime {

struct PredictedLaunch {
  ir::ValueId node;
  Stream stream = Stream::compute;
  double start_s = 0, duration_s = 0;  // since the step's start
};

// One step of `program` as partitioner::simulate plays it (with the collectives
// overlapping compute or not, as the executor runs them), each launch kept with its times.
// Sources and views are left out. `step_time_s`, where given, receives simulate()'s step
// time: the latest end, and where ranks take turns on shared PUs the turns of the stretch
// after the last collective, which no launch holds. Cost: one simulation (a pass over the
// program and its memory plan).
std::vector<PredictedLaunch> predicted_timeline(const partitioner::Program& program,
                                                const partitioner::DeviceModel& device,
                                                partitioner::CollectiveCosts& costs, bool overlap = true,
                                                double* step_time_s = nullptr);

}  // namespace spmd::runtime
