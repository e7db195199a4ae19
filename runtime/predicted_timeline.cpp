#include "runtime/predicted_timeline.h"

#include "partitioner/simulator.h"

namespace spmd::runtime {

std::vector<PredictedLaunch> predicted_timeline(const partitioner::Program& program,
                                                const partitioner::DeviceModel& device,
                                                partitioner::CollectiveCosts& costs, bool overlap) {
  std::vector<partitioner::SimulatedLaunch> launches;
  partitioner::simulate(program, device, costs, overlap, &launches);
  std::vector<PredictedLaunch> out;
  out.reserve(launches.size());
  for (const auto& l : launches) {
    out.push_back({l.node, l.communication ? Stream::communication : Stream::compute, l.start_s, l.duration_s});
  }
  return out;
}

}  // namespace spmd::runtime
