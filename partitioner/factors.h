// Internal: an op's sharding rule (ir/sharding_rule.h) turned into, per factor, the
// (value, dimension) places it occupies. Shared by dimension analysis, propagation and
// lowering so that all three read the same rule.
#pragma once

#include <span>
#include <vector>

#include "ir/graph.h"
#include "ir/sharding_rule.h"

namespace spmd::partitioner {

struct Place {
  ir::ValueId value;
  int dim;
  int operand;  // index among the op's operands, -1 for the result
};

struct OpFactors {
  ir::ShardingRule rule;
  std::vector<std::vector<Place>> places;  // per factor
  // Per factor: whether a mesh axis may split it. Not for replicated factors, nor for
  // factors that are a minor part of a dimension (only the major factor of a split or
  // merged dimension cuts it into contiguous blocks).
  std::vector<bool> shardable;
};

// The factors of node `v` (which must not be a source). O(rank of its values).
OpFactors op_factors(const ir::Graph& g, ir::ValueId v);

// The factors of every op of a graph, computed once: propagation runs after every tactic,
// and the search applies hundreds of candidates' tactics to one graph. Cost: one
// op_factors per node that is neither a source nor a collective, and an index of which ops
// place each value.
class FactorTable {
 public:
  explicit FactorTable(const ir::Graph& g);
  const OpFactors& of(ir::ValueId v) const { return factors_.at(static_cast<size_t>(v)); }
  // The ops that have factors (neither sources nor collectives), in graph order.
  const std::vector<ir::ValueId>& ops() const { return ops_; }
  // The ops whose factors place value `v`, as an operand or as their result: the only ops
  // whose view of the plan changes when v's sharding does.
  std::span<const ir::ValueId> placing(ir::ValueId v) const {
    return {placing_.data() + first_placing_[v], placing_.data() + first_placing_[v + 1]};
  }

 private:
  std::vector<OpFactors> factors_;  // empty for sources and collectives
  std::vector<ir::ValueId> ops_;
  std::vector<ir::ValueId> placing_;  // by value (CSR): the ops of first_placing_[v] onwards
  std::vector<size_t> first_placing_;
};

}  // namespace spmd::partitioner
