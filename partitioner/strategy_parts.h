// Internal: the pieces the built-in strategies are made of, shared with the search
// (search_space.h), which composes them on meshes of its own.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"
#include "partitioner/dimensions.h"
#include "partitioner/tactics.h"

namespace spmd::partitioner {

// Every data input (not the learning rate or step) split along its first (batch) dimension.
void add_data_parallel(const ir::Graph& g, const std::string& axis, std::vector<Tactic>& out);

// The classes Megatron-LM splits: the heads classes, and every other hidden class of each
// MLP chain. Throws spmd::Error naming `strategy` when there are none.
struct MegatronClasses {
  std::vector<int> heads, hidden;
};
MegatronClasses megatron_classes(const DimensionAnalysis& a, const std::string& strategy);

// Whether `size` divides every class of `m`.
bool divides_all(const DimensionAnalysis& a, const MegatronClasses& m, int size);

// Tactics splitting the classes of `m` over `axis` of `size` devices; throws spmd::Error
// when the axis would cut a head or an MLP's columns.
void add_megatron(const DimensionAnalysis& a, const MegatronClasses& m, const std::string& axis, int size,
                  std::vector<Tactic>& out);

}  // namespace spmd::partitioner
