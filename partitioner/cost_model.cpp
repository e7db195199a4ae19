#include "partitioner/cost_model.h"

#include <cmath>

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "collectives/redistribute.h"
#include "collectives/synthesize.h"
#include "ir/ops.h"
#include "ir/sharding_rule.h"
#include "partitioner/placement.h"

namespace spmd::partitioner {
namespace {

bool computes(const ir::Graph& g, ir::ValueId v) {
  const ir::Node& n = g.node(v);
  const ir::OpTraits& t = ir::op_def(n.op).traits;
  return !n.is_source() && !t.view && !t.collective;
}

double tensor_bytes(const ir::TensorType& t) { return static_cast<double>(t.bytes()); }

// The points of an op's iteration space (the product of its rule's factor sizes), doubled
// for a contraction of two operands.
double rule_flops(const ir::Graph& g, ir::ValueId v) {
  ir::ShardingRule rule = ir::sharding_rule(g, v);
  double points = 1;
  for (int64_t size : rule.factor_size) points *= static_cast<double>(size);
  bool contracts = std::any_of(rule.factor_kind.begin(), rule.factor_kind.end(),
                               [](ir::FactorKind k) { return k == ir::FactorKind::reduction; });
  return contracts && g.node(v).inputs.size() > 1 ? 2 * points : points;
}

// A problem as its op and the shapes of its operands and result, which fix its iteration
// space (a transpose or a reduced axis changes the result's shape, not the count).
struct ProblemKey {
  std::vector<int64_t> words;
  bool operator==(const ProblemKey&) const = default;
};
struct ProblemHash {
  size_t operator()(const ProblemKey& k) const {
    uint64_t h = 14695981039346656037ull;  // FNV-1a over the words
    for (int64_t w : k.words) h = (h ^ static_cast<uint64_t>(w)) * 1099511628211ull;
    return static_cast<size_t>(h);
  }
};

}  // namespace

double op_flops(const ir::Graph& g, ir::ValueId v) {
  if (!computes(g, v)) return 0;
  // A search asks the same few thousand problems of every plan it simulates: building a
  // sharding rule for each was a tenth of its time. Kept per thread, keyed by shapes.
  thread_local std::unordered_map<ProblemKey, double, ProblemHash> known;
  thread_local ProblemKey key;
  const ir::Node& n = g.node(v);
  key.words.assign({static_cast<int64_t>(ir::find_op(n.op) - ir::all_ops().data()), n.type.rank()});
  key.words.insert(key.words.end(), n.type.shape.begin(), n.type.shape.end());
  for (ir::ValueId x : n.inputs) {
    key.words.push_back(g.type(x).rank());
    key.words.insert(key.words.end(), g.type(x).shape.begin(), g.type(x).shape.end());
  }
  if (auto it = known.find(key); it != known.end()) return it->second;
  return known.emplace(key, rule_flops(g, v)).first->second;
}

double op_bytes(const ir::Graph& g, ir::ValueId v) {
  if (!computes(g, v)) return 0;
  double bytes = tensor_bytes(g.type(v));
  for (ir::ValueId x : g.node(v).inputs) bytes += tensor_bytes(g.type(x));
  return bytes;
}

namespace {

// The FLOP/s a problem of `flops` reaches: the measured curve, interpolated in log(size)
// and held flat beyond its ends; the peak without one.
double flops_rate(const DeviceModel& device, double flops) {
  const auto& curve = device.flops_by_size;
  if (curve.empty()) return device.peak_flops;
  if (flops <= curve.front().first) return curve.front().second;
  for (size_t i = 1; i < curve.size(); ++i) {
    if (flops > curve[i].first) continue;
    const double t = std::log(flops / curve[i - 1].first) / std::log(curve[i].first / curve[i - 1].first);
    return curve[i - 1].second + t * (curve[i].second - curve[i - 1].second);
  }
  return curve.back().second;
}

}  // namespace

double op_seconds(const ir::Graph& g, ir::ValueId v, const DeviceModel& device) {
  const double flops = op_flops(g, v);
  return device.op_latency_s + std::max(flops / flops_rate(device, flops), op_bytes(g, v) / device.memory_Bps);
}

bool compute_bound(const ir::Graph& g, ir::ValueId v, const DeviceModel& device) {
  const double flops = op_flops(g, v);
  return flops > 0 && flops / flops_rate(device, flops) >= op_bytes(g, v) / device.memory_Bps;
}

CollectiveCosts::CollectiveCosts(const Mesh& mesh, const launcher::Topology& topology)
    : mesh_(mesh), topology_(topology) {
  place_mesh(mesh, topology);
}

bool CollectiveCosts::across_devices(const CollectiveRecord& r) const {
  return collectives::moves_between_devices(r.from_layout, r.to_layout, mesh_.sizes);
}

double CollectiveCosts::seconds(const CollectiveRecord& r) {
  double total = 0;
  for (const auto& step : collectives::plan_redistribution(r.global, mesh_.sizes, r.from_layout, r.to_layout)) {
    using Kind = collectives::RedistributionStep::Kind;
    if (step.kind == Kind::slice || step.kind == Kind::make_partial) continue;  // local
    total += step_seconds(static_cast<int>(step.kind), step.axis, static_cast<double>(r.bytes));
  }
  return total;
}

double CollectiveCosts::step_seconds(int kind, int axis, double bytes) {
  auto key = std::make_tuple(kind, axis, bytes);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  collectives::CollectiveRequest request{collectives::primitive_of(static_cast<collectives::RedistributionStep::Kind>(kind)),
                                         collectives::axis_ranks(mesh_.sizes, axis, 0), bytes};
  double s = collectives::best_schedule(topology_, request).predicted_s;
  cache_.emplace(key, s);
  return s;
}

}  // namespace spmd::partitioner
