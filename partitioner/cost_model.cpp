#include "partitioner/cost_model.h"

#include <cmath>

#include <algorithm>
#include <cstdint>
#include <optional>
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

std::vector<bool> factors_of(const std::vector<std::vector<int>>& dims, size_t factors) {
  std::vector<bool> in(factors, false);
  for (const auto& dim : dims) {
    for (int f : dim) in[static_cast<size_t>(f)] = true;
  }
  return in;
}

// Per factor: whether a lookup op (OpTraits::lookup) addresses it by index instead of
// iterating over it: a replicated factor found in one place only (the table's rows).
std::vector<bool> looked_up(const ir::ShardingRule& rule) {
  const size_t factors = rule.factor_size.size();
  std::vector<int> places(factors, 0);
  for (const auto& operand : rule.operands) {
    const std::vector<bool> in = factors_of(operand, factors);
    for (size_t f = 0; f < factors; ++f) places[f] += in[f];
  }
  const std::vector<bool> in_result = factors_of(rule.result, factors);
  std::vector<bool> out(factors, false);
  for (size_t f = 0; f < factors; ++f) {
    out[f] = rule.factor_kind[f] == ir::FactorKind::replicated && places[f] + in_result[f] == 1;
  }
  return out;
}

// The points of an op's iteration space (the product of its rule's factor sizes, less the
// rows a lookup addresses), doubled for a contraction of two operands (a multiply-add).
double rule_flops(const ir::ShardingRule& rule, const ir::Node& n, bool lookup) {
  const std::vector<bool> skipped = lookup ? looked_up(rule) : std::vector<bool>(rule.factor_size.size(), false);
  double points = 1;
  for (size_t f = 0; f < rule.factor_size.size(); ++f) {
    if (!skipped[f]) points *= static_cast<double>(rule.factor_size[f]);
  }
  bool contracts = std::any_of(rule.factor_kind.begin(), rule.factor_kind.end(),
                               [](ir::FactorKind k) { return k == ir::FactorKind::reduction; });
  return contracts && n.inputs.size() > 1 && !lookup ? 2 * points : points;
}

// The GEMM of a rule of two operands: factors contracted between them make k, those of both
// operands and the result the batch, those of one operand only m (the first) or n (the second).
std::optional<GemmShape> rule_gemm(const ir::ShardingRule& rule) {
  if (rule.operands.size() != 2) return std::nullopt;
  const size_t factors = rule.factor_size.size();
  const std::vector<bool> a = factors_of(rule.operands[0], factors), b = factors_of(rule.operands[1], factors);
  GemmShape s;
  bool contracted = false;
  for (size_t f = 0; f < factors; ++f) {
    const double size = static_cast<double>(rule.factor_size[f]);
    if (rule.factor_kind[f] == ir::FactorKind::reduction) {
      if (!(a[f] && b[f])) return std::nullopt;  // reduced within one operand: no contraction
      s.k *= size, contracted = true;
    } else if (a[f] && b[f]) {
      s.batch *= size;
    } else if (a[f]) {
      s.m *= size;
    } else if (b[f]) {
      s.n *= size;
    }
  }
  // A batch of dot products (layernorm's scale gradient) reads each operand once for one
  // multiply-add per element: memory-bound work, not a GEMM's.
  if (!contracted || (s.m == 1 && s.n == 1)) return std::nullopt;
  return s;
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

// What the cost model reads of an op's rule.
struct Problem {
  double flops = 0;
  std::optional<GemmShape> gemm;
  size_t op = 0;  // the op's index in ir::all_ops()
};

const Problem& problem_of(const ir::Graph& g, ir::ValueId v) {
  static const Problem none;
  if (!computes(g, v)) return none;
  // A search asks the same few thousand problems of every plan it simulates: building a
  // sharding rule for each was a tenth of its time. Kept per thread, keyed by shapes.
  thread_local std::unordered_map<ProblemKey, Problem, ProblemHash> known;
  thread_local ProblemKey key;  // its words' storage kept from call to call
  const ir::Node& n = g.node(v);
  const size_t op = ir::op_index(n.op);
  key.words.assign({static_cast<int64_t>(op), n.type.rank()});
  key.words.insert(key.words.end(), n.type.shape.begin(), n.type.shape.end());
  for (ir::ValueId x : n.inputs) {
    key.words.push_back(g.type(x).rank());
    key.words.insert(key.words.end(), g.type(x).shape.begin(), g.type(x).shape.end());
  }
  if (auto it = known.find(key); it != known.end()) return it->second;
  const ir::ShardingRule rule = ir::sharding_rule(g, v);
  const bool lookup = ir::op_traits(n.op).lookup;
  return known.emplace(key, Problem{rule_flops(rule, n, lookup), lookup ? std::nullopt : rule_gemm(rule), op})
      .first->second;
}

// The rate `p`'s op reaches with its data last touched `reach` bytes ago (0: not known):
// the rate on operands in the core's cache within private_cache_bytes, the rate beyond the
// caches from beyond_cache_reach_bytes on, and between them linear in log(reach) (from the
// caches between); 0 where the op's rates were not both measured.
double op_rate_at_reach(const DeviceModel& device, const Problem& p, double reach) {
  const bool both = p.op < device.flops_by_op_in_cache.size() && device.flops_by_op_in_cache[p.op] > 0 &&
                    p.op < device.flops_by_op.size() && device.flops_by_op[p.op] > 0;
  const double cache = static_cast<double>(device.private_cache_bytes);
  if (!both || !(reach > 0) || !(cache > 0)) return 0;
  if (reach <= cache) return device.flops_by_op_in_cache[p.op];
  // Measured no faster in the cache (gpt's softmax, on 2 ranks): nothing to interpolate.
  if (!(device.beyond_cache_reach_bytes > cache) || device.flops_by_op_in_cache[p.op] <= device.flops_by_op[p.op]) return 0;
  const RateCurve between = {{cache, device.flops_by_op_in_cache[p.op]},
                             {device.beyond_cache_reach_bytes, device.flops_by_op[p.op]}};
  return rate_at(between, reach, device.flops_by_op[p.op]);
}

// The FLOP/s the op's problem reaches: a GEMM's from the matmul rates by shape where
// measured; any other op's as measured for its op (by how far back the step touched its
// data, `reach`, where measured in the core's cache apart: op_rate_at_reach); else the rate
// of its size on the measured curve, else the peak.
double flops_rate(const DeviceModel& device, const Problem& p, double reach) {
  if (p.gemm && !device.flops_by_shape.empty()) return device.flops_by_shape.rate(p.gemm->m, p.gemm->n, p.gemm->k);
  if (!p.gemm) {
    if (const double rate = op_rate_at_reach(device, p, reach); rate > 0) return rate;
  }
  if (!p.gemm && p.op < device.flops_by_op.size() && device.flops_by_op[p.op] > 0) return device.flops_by_op[p.op];
  return rate_at(device.flops_by_size, p.flops, device.peak_flops);
}

double compute_seconds(const DeviceModel& device, const Problem& p, double reach = 0) {
  return p.flops > 0 ? p.flops / flops_rate(device, p, reach) : 0;
}

// compute_seconds of node `v`, a GEMM taking its measured slowdown in a step: within the
// device's bound after the kernels that wrote its operands (DeviceModel::gemm_after_writes),
// beyond it on operands from beyond the caches, batched or not (gemm_beyond_cache).
double compute_seconds(const ir::Graph& g, ir::ValueId v, const DeviceModel& device, const Problem& p,
                       double reach = 0) {
  const double s = compute_seconds(device, p, reach);
  if (!p.gemm) return s;
  if (op_bytes(g, v) < device.gemm_after_writes_below_bytes) return s * device.gemm_after_writes;
  return s * (p.gemm->batch > 1 ? device.batched_gemm_beyond_cache : device.gemm_beyond_cache);
}

// How far back the step touched node `v`'s data: the most, over its operands and its
// result's buffer, of the tensor's bytes and what the step touched since (reuse_distance.h)
// times the `sharers` of the core's cache (DeviceModel::ranks_per_cache), and at least the
// op's own bytes.
double reach_bytes(const ir::Graph& g, ir::ValueId v, const ReuseDistances& reuse, double sharers) {
  double reach = std::max(op_bytes(g, v), tensor_bytes(g.type(v)) + sharers * reuse.result(v));
  const std::vector<ir::ValueId>& inputs = g.node(v).inputs;
  for (size_t i = 0; i < inputs.size(); ++i) reach = std::max(reach, tensor_bytes(g.type(inputs[i])) + sharers * reuse.operand(v, i));
  return reach;
}

double memory_seconds(const ir::Graph& g, ir::ValueId v, const DeviceModel& device) {
  const double bytes = op_bytes(g, v);
  return bytes > 0 ? bytes / rate_at(device.bytes_by_size, bytes, device.memory_Bps) : 0;
}

// Each operand's bytes, and the result's, at the rate of the data the step touched since it
// last touched their buffers, where that is more than the op's own bytes (reuse_distance.h).
double memory_seconds(const ir::Graph& g, ir::ValueId v, const DeviceModel& device, const ReuseDistances& reuse) {
  const double bytes = op_bytes(g, v);
  if (bytes <= 0 || device.bytes_by_size.size() < 2) return memory_seconds(g, v, device);
  const auto at = [&](double tensor, double distance) {
    return tensor / rate_at(device.bytes_by_size, std::max(bytes, tensor + device.ranks_per_cache * distance), device.memory_Bps);
  };
  const std::vector<ir::ValueId>& inputs = g.node(v).inputs;
  double s = at(tensor_bytes(g.type(v)), reuse.result(v));
  for (size_t i = 0; i < inputs.size(); ++i) s += at(tensor_bytes(g.type(inputs[i])), reuse.operand(v, i));
  return s;
}

}  // namespace

double op_flops(const ir::Graph& g, ir::ValueId v) { return problem_of(g, v).flops; }

std::optional<GemmShape> gemm_shape(const ir::Graph& g, ir::ValueId v) { return problem_of(g, v).gemm; }

double op_bytes(const ir::Graph& g, ir::ValueId v) {
  if (!computes(g, v)) return 0;
  double bytes = tensor_bytes(g.type(v));
  for (ir::ValueId x : g.node(v).inputs) bytes += tensor_bytes(g.type(x));
  return bytes;
}

double op_seconds(const ir::Graph& g, ir::ValueId v, const DeviceModel& device) {
  const Problem& p = problem_of(g, v);
  return device.op_latency(p.op) + std::max(compute_seconds(g, v, device, p), memory_seconds(g, v, device));
}

double op_seconds(const ir::Graph& g, ir::ValueId v, const DeviceModel& device, const ReuseDistances& reuse) {
  const Problem& p = problem_of(g, v);
  const double bytes = reuse.rewritten_after_peers(v), rate = device.peer_rewrite_rate(p.op);
  const double rewritten = bytes > 0 && rate > 0 ? bytes / rate : 0;
  return device.op_latency(p.op) + std::max(compute_seconds(g, v, device, p, reach_bytes(g, v, reuse, device.ranks_per_cache)), memory_seconds(g, v, device, reuse)) +
         rewritten;
}

bool compute_bound(const ir::Graph& g, ir::ValueId v, const DeviceModel& device) {
  const Problem& p = problem_of(g, v);
  return p.flops > 0 && compute_seconds(device, p) >= memory_seconds(g, v, device);
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

bool CollectiveCosts::runs_in_pieces(const CollectiveRecord& r) {
  const auto s = collectives::single_gather_or_scatter(r.global, mesh_.sizes, r.from_layout, r.to_layout);
  if (!s) return false;
  const Step& chosen = step(static_cast<int>(s->kind), s->axis, static_cast<double>(r.bytes), /*over_pieces=*/true);
  return !collectives::packs_pieces(chosen.algorithm, mesh_.sizes[s->axis]);
}

double CollectiveCosts::seconds_over_pieces(const CollectiveRecord& r) {
  const auto s = collectives::single_gather_or_scatter(r.global, mesh_.sizes, r.from_layout, r.to_layout);
  if (!s) return seconds(r);
  return step(static_cast<int>(s->kind), s->axis, static_cast<double>(r.bytes), /*over_pieces=*/true).seconds;
}

const CollectiveCosts::Step& CollectiveCosts::step(int kind, int axis, double bytes, bool over_pieces) {
  auto key = std::make_tuple(kind, axis, bytes, over_pieces);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  collectives::CollectiveRequest request{collectives::primitive_of(static_cast<collectives::RedistributionStep::Kind>(kind)),
                                         collectives::axis_ranks(mesh_.sizes, axis, 0), bytes};
  const collectives::Schedule s = over_pieces ? collectives::best_schedule_over_pieces(topology_, request)
                                              : collectives::best_schedule(topology_, request);
  Step chosen{s.predicted_s, s.steps.size() == 1 ? s.steps[0].algorithm : collectives::Algorithm::ring};
  return cache_.emplace(key, chosen).first->second;
}

}  // namespace spmd::partitioner
