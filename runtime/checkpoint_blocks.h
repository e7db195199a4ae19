// The block arithmetic that saving and loading checkpoints share (internal to runtime/):
// which params and state a program holds, where a rank's block of each lies in the global
// tensor, and which rank writes each block.
#pragma once

#include <cstdint>
#include <vector>

#include "collectives/layout.h"
#include "ir/graph.h"
#include "kernels/backend.h"
#include "runtime/executor.h"

namespace spmd::runtime {

// A param or state of the running program: its global shape, its layout on the mesh, and
// this rank's block of it in host memory (no buffer when no executor is given; on a device
// backend a host copy, which load_checkpoint commits back).
struct Held {
  ir::ValueId id;
  const ir::Node* node;
  std::vector<int64_t> global;
  collectives::Layout layout;
  kernels::TensorRef data;
};

// The program's mesh axis sizes, empty for an unpartitioned graph.
std::vector<int> mesh_sizes(const ir::Graph& g);
std::vector<Held> held_values(const ir::Graph& g, const Executor* ex);
// The first global index of `rank`'s block in each dimension.
std::vector<int64_t> block_origin(const std::vector<int64_t>& global, const std::vector<int>& mesh,
                                  const collectives::Layout& l, int rank);
// One copy of each block is written: by the rank at coordinate 0 of every axis that does
// not split the value (the axes it is replicated over).
bool writes_block(const collectives::Layout& l, const std::vector<int>& mesh, int rank);

}  // namespace spmd::runtime
