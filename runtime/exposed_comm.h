// How much of a measured step its communication left uncovered: the simulator's
// exposed_comm_s (partitioner/simulator.h), read from what the executor timed.
#pragma once

#include <vector>

#include "ir/graph.h"
#include "runtime/executor.h"

namespace spmd::runtime {

// The span of `launches` (first start to last end) less the time its kernels ran: the part
// of the step that compute does not cover (collectives, and what waits between launches).
// 0 for no launches. `graph` is the program they ran, to tell collectives from kernels.
// Cost: one pass over the launches.
double exposed_comm_seconds(const ir::Graph& graph, const std::vector<LaunchTime>& launches);

}  // namespace spmd::runtime
