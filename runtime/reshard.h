// Moving a running job's params and optimizer state from one plan to another (a live
// re-partitioning): the values of an executor of program A are laid into an executor of
// program B, a per-device program of the same training step lowered for another plan, on
// the same ranks. Nothing goes through files or through one rank.
//  - Same mesh shape: each value is redistributed along the mesh axes by the type-directed
//    synthesis of collectives/redistribute.h (shrinking steps first, gathers last).
//  - Another mesh shape (data=4 to data=2 x model=2): the meshes' coordinates do not
//    correspond, so each rank sends every other rank the part of each block it holds (one
//    copy of a replicated block, as a checkpoint writes it) that falls in that rank's new
//    block, pairwise, one value at a time: the blocks a checkpoint load would read, moved
//    in memory (PyTorch's distributed checkpoint reshards the same way).
// Either way a rank holds, per value, its old and new blocks and at most one buffer of the
// larger of them besides.
#pragma once

#include "collectives/communicator.h"
#include "launcher/topology.h"
#include "runtime/executor.h"

namespace spmd::runtime {

// Copies every param and state of `from` into `to` (matched by name; both per-device
// programs of one training step, or both whole graphs on one rank). Collective over `world`
// (null: this process alone). Throws spmd::Error when the programs do not hold the same
// values with the same global shapes. `topology` (optional, device i = rank i) picks the
// collectives' schedules. Cost: every value moved once.
void reshard(const Executor& from, Executor& to, collectives::Communicator* world,
             const launcher::Topology* topology = nullptr);

}  // namespace spmd::runtime
