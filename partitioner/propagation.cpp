#include "partitioner/propagation.h"

#include <algorithm>
#include <optional>

#include "ir/ops.h"
#include "partitioner/factors.h"

namespace spmd::partitioner {
namespace {

bool has(const Plan& plan, ir::ValueId v, int dim, int axis) {
  const auto& axes = plan.of(v).dims[dim];
  return std::find(axes.begin(), axes.end(), axis) != axes.end();
}

}  // namespace

bool can_take(const ir::Graph& g, const Plan& plan, ir::ValueId v, int dim, int axis) {
  const Sharding& s = plan.of(v);
  for (const auto& axes : s.dims) {
    if (std::find(axes.begin(), axes.end(), axis) != axes.end()) return false;
  }
  if (std::find(s.partial.begin(), s.partial.end(), axis) != s.partial.end()) return false;
  int64_t parts = plan.mesh.sizes[axis];
  for (int a : s.dims[dim]) parts *= plan.mesh.sizes[a];
  return g.type(v).shape[dim] % parts == 0;
}

int propagate_axis(const ir::Graph& g, Plan& plan, int axis, const std::vector<DimRef>& seeds, Scope scope,
                   const std::string& origin, const FactorTable* table) {
  int added = 0;
  auto give = [&](ir::ValueId v, int dim) {
    plan.shardings[v].dims[dim].push_back(axis);
    plan.origin[v] = origin;
    ++added;
  };
  for (const DimRef& s : seeds) {
    if (!has(plan, s.value, s.dim, axis) && can_take(g, plan, s.value, s.dim, axis)) give(s.value, s.dim);
  }
  std::optional<FactorTable> own;
  if (!table) table = &own.emplace(g);
  // The ops that can carry the axis are fixed by the scope.
  std::vector<ir::ValueId> ops;
  for (ir::ValueId v : table->ops()) {
    if (scope != Scope::optimizer || ir::op_traits(g.node(v).op).optimizer_update) ops.push_back(v);
  }
  // An op is visited only when a value it places changed since its last visit: a visit
  // reads nothing else, so skipping a clean op gives what the full sweep gives.
  std::vector<char> dirty(g.nodes.size(), 1);
  auto visit = [&](size_t i) {
    if (!dirty[ops[i]]) return false;
    dirty[ops[i]] = 0;
    bool changed = false;
    const OpFactors& f = table->of(ops[i]);
    for (size_t k = 0; k < f.places.size(); ++k) {
      if (!f.shardable[k]) continue;
      const auto& places = f.places[k];
      bool any = std::any_of(places.begin(), places.end(), [&](const Place& p) { return has(plan, p.value, p.dim, axis); });
      if (!any) continue;
      for (const Place& p : places) {
        if (!has(plan, p.value, p.dim, axis) && can_take(g, plan, p.value, p.dim, axis)) {
          give(p.value, p.dim);
          for (ir::ValueId op : table->placing(p.value)) dirty[op] = 1;
          changed = true;
        }
      }
    }
    return changed;
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < ops.size(); ++i) changed |= visit(i);
    for (size_t i = ops.size(); i-- > 0;) changed |= visit(i);
  }
  return added;
}

}  // namespace spmd::partitioner
