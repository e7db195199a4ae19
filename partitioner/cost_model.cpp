#include "partitioner/cost_model.h"

#include <cmath>

#include <algorithm>

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

}  // namespace

double op_flops(const ir::Graph& g, ir::ValueId v) {
  if (!computes(g, v)) return 0;
  ir::ShardingRule rule = ir::sharding_rule(g, v);
  double points = 1;
  for (int64_t size : rule.factor_size) points *= static_cast<double>(size);
  bool contracts = std::any_of(rule.factor_kind.begin(), rule.factor_kind.end(),
                               [](ir::FactorKind k) { return k == ir::FactorKind::reduction; });
  return contracts && g.node(v).inputs.size() > 1 ? 2 * points : points;
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
