#include "partitioner/tuning.h"

#include "partitioner/bucket.h"
#include "partitioner/prefetch.h"

namespace spmd::partitioner {

TunedProgram tune_schedule(const Program& lowered, bool rematerialize, const DeviceModel& device,
                           CollectiveCosts& costs, std::int64_t memory_limit, ScheduleChoice asked) {
  TunedProgram t;
  t.prefetch = asked.prefetch >= 0 ? asked.prefetch
                                   : prefetch_depth(lowered, rematerialize, device, costs, memory_limit);
  Program program = finish_lowering(lowered, rematerialize, t.prefetch);
  t.bucket_bytes = asked.bucket_bytes >= 0 ? asked.bucket_bytes
                   : asked.overlap         ? bucket_size(program, device, costs, memory_limit)
                                           : 0;
  t.program = bucket_gradients(std::move(program), t.bucket_bytes);
  t.prediction = simulate(t.program, device, costs, asked.overlap);
  return t;
}

}  // namespace spmd::partitioner
