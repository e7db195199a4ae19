// Rematerialization (activation checkpointing; Chen et al. 2016, "Training Deep Nets with
// Sublinear Memory Cost"): a training step that keeps only a few forward values for backward
// and recomputes the others just before backward first reads them, so the memory held
// between the two passes drops to the checkpoints plus one segment's activations, for about
// one more forward pass of compute.
//
// Checkpoints are found from the program's structure, not its names: the forward values
// that alone carry the data from one part of the forward pass to the next (at a point of the
// forward order where exactly one input-dependent value is still to be read by a later
// forward op: a transformer's residual stream between layers). Values computed from params
// alone (a gathered ZeRO shard, a transposed weight) are recomputed too, as FSDP gathers a
// layer's params again for backward. The last segment, which backward reads first, is kept.
#pragma once

#include <vector>

#include "ir/graph.h"

namespace spmd::ir {

struct Rematerialized {
  Graph graph;
  std::vector<ValueId> origin;  // per node of `graph`: the node of the input it copies
  std::vector<ValueId> moved;   // per node of the input: its own (first) copy in `graph`
  int recomputed = 0;           // how many nodes were added
  int checkpoints = 0;          // how many forward values are kept for backward
};

// `g` with its backward reading recomputed copies of the forward values that are not
// checkpoints. The forward pass is every non-source node the outputs depend on; a graph
// without backward comes back unchanged. Cost: O(nodes log nodes).
Rematerialized rematerialize(const Graph& g);

}  // namespace spmd::ir
