// The part of `spmd plan` that needs a topology: where each mesh axis lands, and each
// collective of a step costed as the schedule synthesized for its axis's devices.
#pragma once

#include <string>

#include "launcher/topology.h"
#include "partitioner/lower.h"
#include "partitioner/plan.h"

namespace spmd::tools {

// `top` limits the list of collectives to the costliest ones.
std::string placement_report(const launcher::Topology& topology, const partitioner::Plan& plan,
                             const partitioner::Program& program, size_t top = 10);

}  // namespace spmd::tools
