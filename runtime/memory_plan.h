// The executor's memory plan. The planning itself (no allocation) lives in the partitioner,
// which predicts a plan's peak memory with it; the runtime lays out its buffers with the
// same functions, so the predicted peak is the executor's planned peak.
#pragma once

#include "partitioner/memory_plan.h"

namespace spmd::runtime {

using partitioner::MemoryPlan;
using partitioner::plan_memory;
using partitioner::plan_program_memory;
using partitioner::ProgramMemory;

}  // namespace spmd::runtime
