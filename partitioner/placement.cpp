#include "partitioner/placement.h"

#include "collectives/redistribute.h"
#include "collectives/synthesize.h"
#include "common/error.h"

namespace spmd::partitioner {

std::vector<AxisPlacement> place_mesh(const Mesh& mesh, const launcher::Topology& topology) {
  if (mesh.size() != topology.num_devices()) {
    throw Error("the mesh " + mesh.to_string() + " has " + std::to_string(mesh.size()) + " devices, the topology " +
                std::to_string(topology.num_devices()));
  }
  std::vector<AxisPlacement> out;
  for (size_t a = 0; a < mesh.names.size(); ++a) {
    std::vector<int> devices = collectives::axis_ranks(mesh.sizes, static_cast<int>(a), 0);
    out.push_back({mesh.names[a], mesh.sizes[a], topology.levels_spanned(devices)});
  }
  return out;
}

std::vector<CollectiveCost> cost_collectives(const Program& program, const Mesh& mesh,
                                             const launcher::Topology& topology) {
  place_mesh(mesh, topology);
  std::vector<CollectiveCost> out;
  for (size_t i = 0; i < program.collectives.size(); ++i) {
    const CollectiveRecord& r = program.collectives[i];
    CollectiveCost cost{i, 0};
    for (const auto& step : collectives::plan_redistribution(r.global, mesh.sizes, r.from_layout, r.to_layout)) {
      using Kind = collectives::RedistributionStep::Kind;
      if (step.kind == Kind::slice || step.kind == Kind::make_partial) continue;  // local
      collectives::CollectiveRequest request{collectives::primitive_of(step.kind), collectives::axis_ranks(mesh.sizes, step.axis, 0),
                                             static_cast<double>(r.bytes)};
      cost.predicted_s += collectives::best_schedule(topology, request).predicted_s;
    }
    out.push_back(cost);
  }
  return out;
}

}  // namespace spmd::partitioner
