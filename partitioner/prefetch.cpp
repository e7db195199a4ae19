#include "partitioner/prefetch.h"

#include <limits>

#include "partitioner/memory_plan.h"
#include "partitioner/schedule.h"
#include "partitioner/simulator.h"

namespace spmd::partitioner {

// One ahead first: FSDP's default, kept unless another depth is predicted faster.
std::vector<int> prefetch_depths_tried() { return {1, 0, 2, 4, 8}; }

bool gathers_params(const Program& lowered) {
  for (const CollectiveRecord& r : lowered.collectives) {
    if (lowered.graph.node(lowered.graph.node(r.at).inputs.at(0)).is_source()) return true;
  }
  return false;
}

int prefetch_depth(const Program& lowered, bool rematerialize, const DeviceModel& device, CollectiveCosts& costs,
                   std::int64_t memory_limit, std::optional<Prediction>* chosen) {
  if (!gathers_params(lowered)) return 1;
  int best = 1;
  double best_s = std::numeric_limits<double>::infinity();
  std::optional<Prediction> best_prediction, first;
  // Recomputation does not depend on the depth: done once for every depth tried.
  Program recomputed;
  const Program& unscheduled = rematerialized_if(lowered, rematerialize, recomputed);
  for (int depth : prefetch_depths_tried()) {
    const Program program = schedule_for_overlap(unscheduled, depth);
    Prediction p = simulate_time(program, device, costs);
    const bool gains = p.step_time_s < best_s * (1 - 1e-9);  // another one must gain
    if (!first || gains) p.peak_bytes = plan_program_memory(program.graph, device.moved_buffers_apart).peak_bytes();  // only where it counts
    if (!first) first = p;  // depth 1's, kept where no depth fits
    if (!gains || (memory_limit > 0 && p.peak_bytes > static_cast<size_t>(memory_limit))) continue;
    best = depth, best_s = p.step_time_s, best_prediction = p;
  }
  if (chosen) *chosen = best_prediction ? best_prediction : first;
  return best;
}

}  // namespace spmd::partitioner
