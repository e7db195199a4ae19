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

// One step of `program` played by partitioner::simulate's rule (ops in program order on the
// compute stream once their operands are ready, each collective on the communication stream
// once its operand is ready and the stream is free), each launch kept with its times; the
// latest end is simulate()'s step_time_s. Sources and views take no time and are left out.
// Cost: one pass over the program.
std::vector<PredictedLaunch> predicted_timeline(const partitioner::Program& program,
                                                const partitioner::DeviceModel& device,
                                                partitioner::CollectiveCosts& costs);

}  // namespace spmd::runtime
