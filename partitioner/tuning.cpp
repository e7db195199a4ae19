#include "partitioner/tuning.h"

#include "partitioner/bucket.h"
#include "partitioner/prefetch.h"
#include "partitioner/schedule.h"

namespace spmd::partitioner {

ScheduleChoice with_plan_schedule(ScheduleChoice asked, const Plan& plan) {
  if (!plan.schedule) return asked;
  if (asked.prefetch < 0) asked.prefetch = plan.schedule->prefetch;
  if (asked.bucket_bytes < 0 && asked.overlap) asked.bucket_bytes = plan.schedule->bucket_bytes;
  return asked;
}

TunedProgram tune_schedule(const Program& lowered, bool rematerialize, const DeviceModel& device,
                           CollectiveCosts& costs, std::int64_t memory_limit, ScheduleChoice asked) {
  TunedProgram t;
  t.gathers_params = gathers_params(lowered);
  // The prediction of the program the choices end with, where one of them simulated it
  // (both simulate with overlap on).
  std::optional<Prediction> depth_chosen, size_chosen;
  // Recomputation does not depend on the schedule: done once, before every choice.
  Program recomputed;
  const Program& unscheduled = rematerialized_if(lowered, rematerialize, recomputed);
  t.schedule.prefetch = asked.prefetch >= 0 ? asked.prefetch
                                            : prefetch_depth(unscheduled, false, device, costs, memory_limit,
                                                             &depth_chosen);
  Program program = schedule_for_overlap(unscheduled, t.schedule.prefetch);
  t.schedule.bucket_bytes = asked.bucket_bytes >= 0 ? asked.bucket_bytes
                            : asked.overlap ? bucket_size(program, device, costs, memory_limit, &size_chosen)
                                            : 0;
  t.program = bucket_gradients(std::move(program), t.schedule.bucket_bytes);
  if (asked.overlap && size_chosen) {
    t.prediction = *size_chosen;
  } else if (asked.overlap && depth_chosen && t.schedule.bucket_bytes == 0) {
    t.prediction = *depth_chosen;
  } else {
    t.prediction = simulate(t.program, device, costs, asked.overlap);
  }
  return t;
}

}  // namespace spmd::partitioner
