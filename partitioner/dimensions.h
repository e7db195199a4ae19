// Dimension analysis (TOAST): the (value, dimension) pairs that the ops' factors join must
// be sharded alike, so they fall into classes (union-find over every op's rule); sharding a
// class along a mesh axis is one decision of the search space. A conflict is where that
// cannot hold: a value with two dimensions in one class (an axis cannot split both), or an
// op that needs a class's dimension whole (softmax's axis, layernorm's features); it is
// where a redistribution must be paid if the class is sharded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "partitioner/propagation.h"

namespace spmd::partitioner {

struct DimensionClass {
  std::string name;     // batch, sequence, d_model, d_ff, heads, head_dim, vocab ... or dimN
  int64_t size = 0;
  std::vector<DimRef> members;
};

struct DimensionConflict {
  int class_id;
  ir::ValueId at;       // the value or op where it arises
  std::string what;
};

struct DimensionAnalysis {
  std::vector<DimensionClass> classes;      // largest first
  std::vector<std::vector<int>> class_of;   // [value][dim] -> class index, -1 for size-1 dims
  std::vector<DimensionConflict> conflicts;
  int class_named(const std::string& name) const;  // -1 when none
};

// Cost: O(nodes x rank) with near-constant union-find; allocates no tensor.
DimensionAnalysis analyze_dimensions(const ir::Graph& g);

}  // namespace spmd::partitioner
