#include "runtime/predicted_timeline.h"

#include "partitioner/simulator.h"

namespace spmd::runtime {

std::vector<PredictedLaunch> predicted_timeline(const partitioner::Program& program,
                                                const partitioner::DeviceModel& device,
                                                partitioner::CollectiveCosts& costs, bool overlap,
                                                double* step_time_s) {
  std::vector<partitioner::SimulatedLaunch> launches;
  const partitioner::Prediction p = partitioner::simulate(program, device, costs, overlap, &launches);
  if (step_time_s) *step_time_s = p.step_time_s;
  std::vector<PredictedLaunch> out;
  out.reserve(launches.size());
  for (const auto& l : launches) {
    out.push_back({l.node, l.communication ? Stream::communication : Stream::compute, l.start_s, l.duration_s});
  }
  return out;
}

}  // namespace spmd::runtime
