#include "runtime/memory_plan.h"

#include <algorithm>
#include <numeric>

namespace spmd::runtime {
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
                       const std::vector<ir::ValueId>& alias) {
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
  std::vector<const Interval*> placed;
  for (const Interval& it : intervals) {
    // Buffers already placed whose lifetimes overlap this one, by offset.
    std::vector<std::pair<size_t, size_t>> busy;
    for (const Interval* p : placed) {
      if (p->first <= it.last && it.first <= p->last) busy.emplace_back(plan.offset[p->value], p->bytes);
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (auto [start, bytes] : busy) {
      if (start >= offset + it.bytes) break;
      offset = std::max(offset, start + bytes);
    }
    plan.offset[it.value] = static_cast<ptrdiff_t>(offset);
    plan.arena_bytes = std::max(plan.arena_bytes, offset + it.bytes);
    placed.push_back(&it);
  }
  for (int v = 0; v < n; ++v) {
    if (alias[v] >= 0) plan.offset[v] = plan.offset[root(v)];
  }
  return plan;
}

}  // namespace spmd::runtime
