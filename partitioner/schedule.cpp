#include "partitioner/schedule.h"

#include <algorithm>
#include <unordered_map>

#include "ir/ops.h"
#include "partitioner/bucket.h"

namespace spmd::partitioner {
namespace {

bool is_collective(const ir::Graph& g, ir::ValueId v) { return ir::op_traits(g.node(v).op).collective; }

}  // namespace

Program schedule_for_overlap(Program p, int prefetch) {
  ir::Graph& g = p.graph;
  const size_t n = g.nodes.size();
  // The collectives to place right after each producer, in program order.
  std::vector<std::vector<ir::ValueId>> after(n);
  std::vector<bool> hoisted(n, false);
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    if (!is_collective(g, v)) continue;
    ir::ValueId operand = g.node(v).inputs.at(0);
    if (g.node(operand).is_source() || is_collective(g, operand)) continue;
    after[operand].push_back(v);
    hoisted[v] = true;
  }
  // Collectives of sources (ZeRO's gathers of params), each prefetched `prefetch` ahead: the
  // slot of the k-th issues up to the (k+prefetch)-th, so they run while the ops reading
  // the ones before compute (FSDP's forward prefetch, deeper when the cost model says so).
  std::vector<ir::ValueId> of_sources;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    if (is_collective(g, v) && !hoisted[v]) of_sources.push_back(v);
  }
  std::vector<ir::ValueId> order;
  order.reserve(n);
  std::vector<bool> emitted(n, false);
  auto emit = [&](ir::ValueId x) {
    order.push_back(x);
    emitted[x] = true;
  };
  // The k-th slot (where lowering put of_sources[k]) issues of_sources[k] if not yet, and up
  // to `prefetch` more: a param's node goes along (a source reads nothing); a collective of
  // a collective not issued yet stops the prefetch there.
  size_t next_source = 0, slot = 0;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    if (hoisted[v]) continue;
    if (is_collective(g, v)) {
      const size_t own = slot++, upto = std::min(of_sources.size(), own + 1 + static_cast<size_t>(std::max(prefetch, 0)));
      for (; next_source < upto; ++next_source) {
        const ir::ValueId gather = of_sources[next_source], operand = g.node(gather).inputs.at(0);
        if (!emitted[operand]) {
          if (!g.node(operand).is_source() && next_source > own) break;
          emit(operand);
        }
        emit(gather);
      }
      continue;
    }
    if (emitted[v]) continue;
    emit(v);
    for (ir::ValueId c : after[v]) emit(c);
  }
  return in_order(std::move(p), order);
}

Program in_order(Program p, const std::vector<ir::ValueId>& order) {
  ir::Graph& g = p.graph;
  std::vector<ir::ValueId> moved(g.nodes.size(), -1);
  for (size_t i = 0; i < order.size(); ++i) moved[order[i]] = static_cast<ir::ValueId>(i);
  Program out{ir::Graph{}, std::move(p.collectives), p.recomputed};
  out.graph.meta = std::move(g.meta);
  out.graph.nodes.reserve(order.size());
  for (ir::ValueId v : order) {
    ir::Node node = std::move(g.nodes[v]);
    for (ir::ValueId& x : node.inputs) x = moved[x];
    out.graph.nodes.push_back(std::move(node));
  }
  for (const auto& [name, v] : g.outputs) out.graph.outputs.emplace_back(name, moved[v]);
  for (const auto& [target, value] : g.updates) out.graph.updates.emplace_back(moved[target], moved[value]);
  for (CollectiveRecord& r : out.collectives) r.at = moved[r.at];
  std::stable_sort(out.collectives.begin(), out.collectives.end(),
                   [](const CollectiveRecord& a, const CollectiveRecord& b) { return a.at < b.at; });
  return out;
}

std::vector<ir::ValueId> in_flight_limits(const ir::Graph& g) {
  // The first node of each issue of a collective of a computed operand, and each such
  // collective's issue (a bucket's members share their first's).
  std::vector<ir::ValueId> issued_at;
  std::vector<int> issue_of(g.nodes.size(), -1);
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const ir::Node& n = g.node(v);
    if (!is_collective(g, v) || g.node(n.inputs.at(0)).is_source()) continue;
    const bool joins = joins_previous_in_bucket(g, v) && issue_of[v - 1] >= 0;
    if (!joins) issued_at.push_back(v);
    issue_of[v] = static_cast<int>(issued_at.size()) - 1;
  }
  std::vector<ir::ValueId> limit(g.nodes.size(), -1);
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    if (issue_of[v] < 0) continue;
    const size_t later = static_cast<size_t>(issue_of[v]) + kReductionsInFlight;
    limit[v] = later < issued_at.size() ? issued_at[later] : g.size();
  }
  return limit;
}

std::vector<ir::ValueId> collective_wait_points(const ir::Graph& g, const std::vector<ir::ValueId>& alias) {
  auto root = [&](ir::ValueId v) {
    while (alias[v] >= 0) v = alias[v];
    return v;
  };
  std::vector<ir::ValueId> wait(g.nodes.size(), -1);
  // The collectives not waited for yet, by the root of their result and of their operand.
  std::unordered_map<ir::ValueId, std::vector<ir::ValueId>> by_result, by_operand;
  auto resolve = [&](std::unordered_map<ir::ValueId, std::vector<ir::ValueId>>& pending, ir::ValueId key, ir::ValueId at) {
    auto it = pending.find(key);
    if (it == pending.end()) return;
    for (ir::ValueId c : it->second) {
      if (wait[c] == g.size()) wait[c] = at;  // else waited for already, through the other map
    }
    pending.erase(it);
  };
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const ir::Node& node = g.node(v);
    const ir::OpTraits& traits = ir::op_traits(node.op);
    if (traits.collective) {
      wait[v] = g.size();
      by_result[root(v)].push_back(v);
      by_operand[root(node.inputs.at(0))].push_back(v);
      continue;
    }
    if (node.is_source() || traits.view) continue;
    for (ir::ValueId x : node.inputs) resolve(by_result, root(x), v);
    resolve(by_result, root(v), v);
    resolve(by_operand, root(v), v);
  }
  const std::vector<ir::ValueId> limit = in_flight_limits(g);
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    if (limit[v] >= 0) wait[v] = std::min(wait[v], limit[v]);
  }
  return wait;
}

}  // namespace spmd::partitioner
