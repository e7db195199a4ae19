// The schedule a lowered plan runs with beyond its collectives: how far ahead ZeRO's param
// gathers are issued (prefetch.h) and the size of the gradient buckets (bucket.h), each as
// asked or as the cost model chooses. A Job runs its program so, `spmd plan --predict`
// costs it so, and the search re-costs its fastest candidates so, which is what makes
// their predictions the runtime's.
#pragma once

#include <cstdint>

#include "partitioner/cost_model.h"
#include "partitioner/device_model.h"
#include "partitioner/lower.h"
#include "partitioner/simulator.h"

namespace spmd::partitioner {

struct ScheduleChoice {
  int prefetch = -1;         // gathers issued this many ahead; negative: the cost model's choice
  double bucket_bytes = -1;  // the largest bucket (0: none); negative: the cost model's choice
  // 1: collectives overlap compute (the runtime's communication thread); 0: each blocks
  // where the program issues it; negative: the cost model's choice, the faster of the two.
  // Where that thread shares the main thread's core (DeviceModel::comm_shares_core) it
  // overlaps nothing and every collective pays the hand-off: on 2 ranks of one core each,
  // mlp under ZeRO ran its step in 305 us blocking against 401-412 us overlapped. Each way
  // gets its own bucket size (bucket.h).
  int overlap = -1;
};

struct TunedProgram {
  Program program;        // finished (rematerialized, scheduled) and bucketed
  PlanSchedule schedule;  // the depth and bucket size it was finished with
  bool gathers_params = false;  // whether there was anything for the depth to move
  Prediction prediction;  // of `program`
};

// `asked` with each part it leaves to the cost model (negative) taken from the schedule
// `plan` was costed with, where it has one (the search's winner, a plan file); the bucket
// size only where the collectives run as the plan's did (overlapping or blocking). O(1).
ScheduleChoice with_plan_schedule(ScheduleChoice asked, const Plan& plan);

// `lowered` (lower_ops' program; rematerialized first when `rematerialize`) finished with
// `asked`'s prefetch depth and bucketed with its bucket size, the cost model's choice of
// each where negative, within `memory_limit` bytes per device (none when <= 0): the depth
// first, then for each way of running collectives asked for (overlapping, blocking, or
// both where the cost model chooses: the faster kept, overlapping on a tie) the bucket size
// on that program. Cost: one rematerialization; up to 5 schedulings and simulations for
// the depth, and per way 7 bucketings and simulations for the size, where the program has
// what they act on (gathers of params; two bucketable collectives), or one simulation.
TunedProgram tune_schedule(const Program& lowered, bool rematerialize, const DeviceModel& device,
                           CollectiveCosts& costs, std::int64_t memory_limit, ScheduleChoice asked = {});

}  // namespace spmd::partitioner
