#include "partitioner/memory_plan.h"

#include <algorithm>
#include <numeric>

#include "ir/ops.h"
#include "partitioner/schedule.h"

namespace spmd::partitioner {
namespace {

size_t aligned(size_t bytes) {
  return (bytes + MemoryPlan::kAlignment - 1) / MemoryPlan::kAlignment * MemoryPlan::kAlignment;
}

struct Interval {
  ir::ValueId value;
  int first, last;  // node indices between which the buffer is live
  size_t bytes;
};

}  // namespace

MemoryPlan plan_memory(const ir::Graph& g, const std::vector<bool>& transient,
                       const std::vector<ir::ValueId>& alias, const std::vector<int>& live_until) {
  const int n = g.size();
  auto root = [&](ir::ValueId v) {
    while (alias[v] >= 0) v = alias[v];
    return v;
  };
  std::vector<int> last(n);
  std::iota(last.begin(), last.end(), 0);
  for (int i = 0; i < n; ++i) {
    for (ir::ValueId v : g.node(i).inputs) last[root(v)] = std::max(last[root(v)], i);
  }
  for (size_t v = 0; v < live_until.size(); ++v) last[root(v)] = std::max(last[root(v)], live_until[v]);
  std::vector<Interval> intervals;
  MemoryPlan plan;
  plan.offset.assign(n, -1);
  for (int v = 0; v < n; ++v) {
    if (transient[v] && alias[v] < 0) {
      intervals.push_back({v, v, last[v], aligned(g.type(v).bytes())});
      plan.naive_bytes += intervals.back().bytes;
    }
  }
  std::stable_sort(intervals.begin(), intervals.end(),
                   [](const Interval& a, const Interval& b) { return a.bytes > b.bytes; });
  // Buffers placed so far, by (offset, bytes): first fit walks those whose lifetimes overlap
  // this one in that order, without sorting them again for each buffer.
  // The lifetime is copied in, not pointed to: the walk reads it for every placed buffer.
  struct Placed {
    size_t offset, bytes;
    int first, last;
  };
  std::vector<Placed> placed;
  auto by_offset = [](const Placed& a, const Placed& b) {
    return a.offset != b.offset ? a.offset < b.offset : a.bytes < b.bytes;
  };
  for (const Interval& it : intervals) {
    size_t offset = 0;
    for (const Placed& p : placed) {
      if (p.first > it.last || it.first > p.last) continue;
      if (p.offset >= offset + it.bytes) break;
      offset = std::max(offset, p.offset + p.bytes);
    }
    plan.offset[it.value] = static_cast<ptrdiff_t>(offset);
    plan.arena_bytes = std::max(plan.arena_bytes, offset + it.bytes);
    Placed next{offset, it.bytes, it.first, it.last};
    placed.insert(std::upper_bound(placed.begin(), placed.end(), next, by_offset), next);
  }
  for (int v = 0; v < n; ++v) {
    if (alias[v] >= 0) plan.offset[v] = plan.offset[root(v)];
  }
  return plan;
}

ProgramMemory plan_program_memory(const ir::Graph& g) {
  const int n = g.size();
  ProgramMemory m;
  m.alias.assign(n, -1);
  std::vector<int> last_read(n, -1);
  std::vector<bool> persistent(n, false);
  for (int v = 0; v < n; ++v) {
    const ir::Node& node = g.node(v);
    for (ir::ValueId x : node.inputs) last_read[x] = v;
    persistent[v] = node.is_source();
    if (ir::op_traits(node.op).view) m.alias[v] = node.inputs[0];  // same bytes, new shape
  }
  auto root = [&](ir::ValueId v) {
    while (m.alias[v] >= 0) v = m.alias[v];
    return v;
  };
  for (auto [target, next] : g.updates) {
    const ir::Node& op = g.node(next);
    // In place when the optimizer op rewrites its own operand 0 and nothing reads the old
    // value afterwards: saves a copy of every param and moment per step.
    bool in_place = ir::op_traits(op.op).optimizer_update && op.inputs[0] == target && m.alias[next] < 0 && last_read[target] <= next;
    if (in_place) {
      m.alias[next] = target;
    } else {
      persistent[root(next)] = true;
      m.copies.emplace_back(target, next);
    }
  }
  for (const auto& [name, v] : g.outputs) persistent[root(v)] = true;
  std::vector<bool> transient(n);
  m.owned.assign(n, false);
  for (int v = 0; v < n; ++v) {
    transient[v] = !persistent[v] && m.alias[v] < 0;
    m.owned[v] = persistent[v] && m.alias[v] < 0;
    if (m.owned[v]) m.persistent_bytes += g.type(v).bytes();
  }
  std::vector<int> live_until(n, -1);
  const std::vector<ir::ValueId> waits = collective_wait_points(g, m.alias);
  for (int v = 0; v < n; ++v) {
    if (waits[v] < 0) continue;
    ir::ValueId wait = waits[v];
    live_until[v] = std::max(live_until[v], wait);
    live_until[g.node(v).inputs.at(0)] = std::max(live_until[g.node(v).inputs.at(0)], wait);
  }
  m.arena = plan_memory(g, transient, m.alias, live_until);
  return m;
}

size_t ProgramMemory::owned_bytes(const ir::Graph& g, const std::string& op) const {
  size_t bytes = 0;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    if (owned[v] && g.node(v).op == op) bytes += g.type(v).bytes();
  }
  return bytes;
}

}  // namespace spmd::partitioner
