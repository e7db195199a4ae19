#include "partitioner/prefetch.h"

#include <limits>

#include "partitioner/simulator.h"

namespace spmd::partitioner {

// One ahead first: FSDP's default, kept unless another depth is predicted faster.
std::vector<int> prefetch_depths_tried() { return {1, 0, 2, 4, 8}; }

int prefetch_depth(const Program& lowered, bool rematerialize, const DeviceModel& device, CollectiveCosts& costs,
                   std::int64_t memory_limit) {
  bool gathers_params = false;  // what the depth moves
  for (const CollectiveRecord& r : lowered.collectives) {
    gathers_params = gathers_params || lowered.graph.node(lowered.graph.node(r.at).inputs.at(0)).is_source();
  }
  if (!gathers_params) return 1;
  int best = 1;
  double best_s = std::numeric_limits<double>::infinity();
  for (int depth : prefetch_depths_tried()) {
    const Prediction p = simulate(finish_lowering(lowered, rematerialize, depth), device, costs);
    if (memory_limit > 0 && p.peak_bytes > static_cast<size_t>(memory_limit)) continue;
    if (p.step_time_s < best_s * (1 - 1e-9)) best = depth, best_s = p.step_time_s;  // another one must gain
  }
  return best;
}

}  // namespace spmd::partitioner
