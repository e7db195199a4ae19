#include "partitioner/tuning.h"

#include "partitioner/bucket.h"
#include "partitioner/prefetch.h"
#include "partitioner/schedule.h"

namespace spmd::partitioner {

ScheduleChoice with_plan_schedule(ScheduleChoice asked, const Plan& plan) {
  if (!plan.schedule) return asked;
  if (asked.prefetch < 0) asked.prefetch = plan.schedule->prefetch;
  if (asked.overlap < 0) asked.overlap = plan.schedule->overlap ? 1 : 0;
  // The plan's bucket size was chosen for its way of running collectives.
  if (asked.bucket_bytes < 0 && (asked.overlap > 0) == plan.schedule->overlap) {
    asked.bucket_bytes = plan.schedule->bucket_bytes;
  }
  return asked;
}

namespace {

// A scheduled program bucketed for one way of running its collectives, and its prediction.
struct Finished {
  Program program;
  double bucket_bytes = 0;
  Prediction prediction;
};

// `scheduled` bucketed with `asked_bytes` (the size the cost model predicts fastest where
// negative) and simulated with collectives overlapping or blocking (`overlap`), reusing
// the depth's or the size's simulation of that very program (`depth_chosen`: overlap on).
Finished finish(const Program& scheduled, double asked_bytes, bool overlap, const DeviceModel& device,
                CollectiveCosts& costs, std::int64_t memory_limit, const std::optional<Prediction>& depth_chosen) {
  std::optional<Prediction> size_chosen;
  Finished f;
  f.bucket_bytes = asked_bytes >= 0 ? asked_bytes
                                    : bucket_size(scheduled, device, costs, memory_limit, &size_chosen, overlap);
  f.program = bucket_gradients(scheduled, f.bucket_bytes);
  if (size_chosen) {
    f.prediction = *size_chosen;
  } else if (overlap && depth_chosen && f.bucket_bytes == 0) {
    f.prediction = *depth_chosen;
  } else {
    f.prediction = simulate(f.program, device, costs, overlap);
  }
  return f;
}

}  // namespace

TunedProgram tune_schedule(const Program& lowered, bool rematerialize, const DeviceModel& device,
                           CollectiveCosts& costs, std::int64_t memory_limit, ScheduleChoice asked) {
  TunedProgram t;
  t.gathers_params = gathers_params(lowered);
  std::optional<Prediction> depth_chosen;  // the depth's simulation (overlap on), reused where it fits
  // Recomputation does not depend on the schedule: done once, before every choice.
  Program recomputed;
  const Program& unscheduled = rematerialized_if(lowered, rematerialize, recomputed);
  t.schedule.prefetch = asked.prefetch >= 0 ? asked.prefetch
                                            : prefetch_depth(unscheduled, false, device, costs, memory_limit,
                                                             &depth_chosen);
  const Program scheduled = schedule_for_overlap(unscheduled, t.schedule.prefetch);
  std::optional<Finished> overlapped, blocking;
  if (asked.overlap != 0) {
    overlapped = finish(scheduled, asked.bucket_bytes, true, device, costs, memory_limit, depth_chosen);
  }
  if (asked.overlap <= 0) {
    blocking = finish(scheduled, asked.bucket_bytes, false, device, costs, memory_limit, depth_chosen);
  }
  // Overlapping unless blocking is asked for or predicted faster.
  t.schedule.overlap = !blocking || (overlapped && overlapped->prediction.step_time_s <= blocking->prediction.step_time_s);
  Finished& kept = t.schedule.overlap ? *overlapped : *blocking;
  t.program = std::move(kept.program);
  t.schedule.bucket_bytes = kept.bucket_bytes;
  t.prediction = kept.prediction;
  return t;
}

}  // namespace spmd::partitioner
