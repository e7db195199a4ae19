// Propagation: a mesh axis given to some dimensions spreads through the ops' sharding rules,
// forward and backward, to every dimension that shares a factor with a sharded one (PartIR's
// propagation after each tactic). Deterministic: the ops are visited in graph order, then in
// reverse, until nothing changes; a dimension already holding the axis, a value holding it on
// another dimension (a conflict), or a dimension the axis does not divide is left as it is,
// so the first tactic and the earliest op win.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"
#include "partitioner/plan.h"

namespace spmd::partitioner {

class FactorTable;

struct DimRef {
  ir::ValueId value;
  int dim;
};

enum class Scope {
  all,        // through every op
  optimizer,  // only through the optimizer's update ops (ZeRO: state, gradient, parameter)
};

// Appends `axis` to the dimensions of `seeds` (which the caller has checked) and spreads it;
// marks every value it reaches with `origin`. Returns the number of dimensions that got it.
// Cost: O(passes x nodes), a few passes in practice, plus the ops' factors when no `table`
// (factors.h) of them is given.
int propagate_axis(const ir::Graph& g, Plan& plan, int axis, const std::vector<DimRef>& seeds, Scope scope,
                   const std::string& origin, const FactorTable* table = nullptr);

// Whether `axis` can be added to dimension `dim` of `v` under `plan`: not yet used by the
// value, and dividing what is left of the dimension.
bool can_take(const ir::Graph& g, const Plan& plan, ir::ValueId v, int dim, int axis);

}  // namespace spmd::partitioner
