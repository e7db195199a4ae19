// How far ahead ZeRO's gathers of params are issued (schedule.h's `prefetch`): one ahead
// hides a gather behind the op reading the one before; where a gather takes longer than
// that op, issuing several ahead hides it behind several, at the price of holding more
// gathered params at once. The cost model chooses the depth, within the memory limit.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "partitioner/cost_model.h"
#include "partitioner/device_model.h"
#include "partitioner/lower.h"
#include "partitioner/simulator.h"

namespace spmd::partitioner {

// The depths prefetch_depth() tries: 1 first, then 0 (each gather at its first use), 2, 4, 8.
std::vector<int> prefetch_depths_tried();

// The depth under which `lowered` (lower_ops' program; rematerialized first when
// `rematerialize`) simulates fastest on `device` with `costs`, among those whose peak stays
// within `memory_limit` bytes (none when <= 0); 1 when none fits or on a tie with it. Where
// `chosen` is given and depths were tried, the chosen depth's prediction goes there (else
// it is left alone). Cost: one rematerialization, then one scheduling and simulation per
// depth tried; none when `lowered` gathers no param.
int prefetch_depth(const Program& lowered, bool rematerialize, const DeviceModel& device, CollectiveCosts& costs,
                   std::int64_t memory_limit, std::optional<Prediction>* chosen = nullptr);

// Whether `lowered` gathers params, which is what the prefetch depth moves. Cost: O(collectives).
bool gathers_params(const Program& lowered);

}  // namespace spmd::partitioner
