// What the partitioner's tests of the cost model, the device table, the simulator and the
// search share: a small GPT's training step and the DGX-2 topology.
#pragma once

#include "ir/autodiff.h"
#include "ir/graph.h"
#include "ir/models/zoo.h"
#include "launcher/topology.h"

namespace spmd::partitioner::test {

// A GPT small enough to search exhaustively in milliseconds.
inline constexpr const char* kTinyGpt = "gpt:layers=2,d_model=32,heads=4,seq=8,vocab=16,batch=4";

// The training step of a zoo model spec, with the default optimizer.
inline ir::Graph step_of(const char* model) { return ir::training_step(ir::build_model(model), {}); }

// `nodes` DGX-2s (16 V100s each), from the hwloc file in tests/data/topologies.
inline launcher::Topology dgx2(int nodes) {
  return launcher::load_topology({SPMD_TOPOLOGIES_DIR "/nvidiaDGX2.xml", nodes, std::nullopt});
}

}  // namespace spmd::partitioner::test
