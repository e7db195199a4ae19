// Placement: where the mesh's axes land on the hardware. Rank r drives device r of the
// Topology and sits at the row-major coordinates of r, so the last axis varies fastest and
// lands on the innermost levels (`model` inside a node, `data` across nodes); an axis may
// span several levels (P^2's formalism). Also the predicted cost of a step's collectives on
// that placement, each run as the schedule synthesized for its axis's devices.
#pragma once

#include <string>
#include <vector>

#include "launcher/topology.h"
#include "partitioner/lower.h"
#include "partitioner/mesh.h"

namespace spmd::partitioner {

struct AxisPlacement {
  std::string axis;
  int size = 1;
  std::vector<int> levels;  // topology levels its groups span, top down
};

// Throws spmd::Error when the mesh and the topology have different device counts. O(axes x
// levels x devices).
std::vector<AxisPlacement> place_mesh(const Mesh& mesh, const launcher::Topology& topology);

struct CollectiveCost {
  size_t record;          // index into Program::collectives
  double predicted_s = 0; // the sum of its steps' synthesized schedules
};

// Each collective of `program` costed on `topology` (device 0's groups stand for all).
std::vector<CollectiveCost> cost_collectives(const Program& program, const Mesh& mesh,
                                             const launcher::Topology& topology);

}  // namespace spmd::partitioner
