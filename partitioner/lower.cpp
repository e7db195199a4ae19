#include "partitioner/lower.h"

#include <algorithm>
#include <map>
#include <optional>

#include "collectives/redistribute.h"
#include "common/error.h"
#include "ir/ops.h"
#include "ir/rematerialize.h"
#include "partitioner/factors.h"
#include "partitioner/schedule.h"

namespace spmd::partitioner {
namespace {

bool contains(const std::vector<int>& v, int a) { return std::find(v.begin(), v.end(), a) != v.end(); }

// The sharding an op works in: per factor, the mesh axes it is split over.
struct OpLayout {
  std::vector<std::vector<int>> factor_axes;
  std::vector<Sharding> operands;  // what each operand must be
  Sharding result;                 // what the op leaves (partial over sharded reductions)
};

Sharding dims_of(const std::vector<std::vector<int>>& dims, const OpLayout& l, const OpFactors& f) {
  Sharding s;
  for (const auto& factors : dims) {
    bool whole = factors.empty() || !f.shardable[factors[0]];
    s.dims.push_back(whole ? std::vector<int>{} : l.factor_axes[factors[0]]);
  }
  return s;
}

bool divides(const std::vector<int>& axes, int64_t size, const Mesh& mesh) {
  int64_t parts = 1;
  for (int a : axes) parts *= mesh.sizes[a];
  return size % parts == 0;
}

// The axes a factor can take from a dimension's sharding: its longest prefix that no other
// factor holds and that divides the factor (so the blocks stay contiguous and even).
std::vector<int> usable(const std::vector<int>& axes, const std::vector<int>& used, int64_t size, const Mesh& mesh) {
  std::vector<int> out;
  for (int a : axes) {
    if (contains(used, a)) break;
    out.push_back(a);
  }
  while (!out.empty() && !divides(out, size, mesh)) out.pop_back();
  return out;
}

// Each factor first takes the sharding its operands already have (the first operand that has
// one), so that operands, usually the big activations, move as little as possible; pass
// factors no operand shards then take the planned sharding of the result if no other factor
// holds those axes. A sharded reduction factor leaves the result a partial sum, which the
// caller redistributes: ZeRO's weight gradient is computed partial over data and
// reduce-scattered, not computed from all-gathered activations.
OpLayout op_layout(const Plan& plan, ir::ValueId v, const OpFactors& f) {
  OpLayout l;
  const size_t n = f.places.size();
  l.factor_axes.resize(n);
  std::vector<int> used;
  for (size_t k = 0; k < n; ++k) {
    if (!f.shardable[k]) continue;
    for (const Place& p : f.places[k]) {
      if (p.operand < 0) continue;
      std::vector<int> axes = usable(plan.of(p.value).dims[p.dim], used, f.rule.factor_size[k], plan.mesh);
      if (axes.empty()) continue;
      l.factor_axes[k] = axes;
      used.insert(used.end(), axes.begin(), axes.end());
      break;
    }
  }
  const Sharding& planned = plan.of(v);
  for (size_t d = 0; d < f.rule.result.size(); ++d) {
    const auto& factors = f.rule.result[d];
    if (factors.empty() || !f.shardable[factors[0]] || !l.factor_axes[factors[0]].empty()) continue;
    std::vector<int> axes = usable(planned.dims[d], used, f.rule.factor_size[factors[0]], plan.mesh);
    l.factor_axes[factors[0]] = axes;
    used.insert(used.end(), axes.begin(), axes.end());
  }
  for (const auto& dims : f.rule.operands) l.operands.push_back(dims_of(dims, l, f));
  l.result = dims_of(f.rule.result, l, f);
  for (size_t k = 0; k < n; ++k) {
    if (f.rule.factor_kind[k] == ir::FactorKind::reduction) {
      l.result.partial.insert(l.result.partial.end(), l.factor_axes[k].begin(), l.factor_axes[k].end());
    }
  }
  return l;
}

class Lowering {
 public:
  Lowering(const ir::Graph& g, const Plan& plan, const FactorTable* table) : g_(g), plan_(plan), table_(table) {
    out_.graph.meta = g.meta;
    std::string mesh;
    for (size_t a = 0; a < plan.mesh.names.size(); ++a) {
      mesh += (a ? "," : "") + plan.mesh.names[a] + "=" + std::to_string(plan.mesh.sizes[a]);
    }
    out_.graph.meta.set("mesh", mesh);
    local_.assign(g.nodes.size(), -1);
    pending_.assign(g.nodes.size(), std::nullopt);
  }

  Program run() {
    for (ir::ValueId v = 0; v < g_.size(); ++v) g_.node(v).is_source() ? source(v) : compute(v);
    for (const auto& [name, v] : g_.outputs) {
      out_.graph.outputs.emplace_back(name, move(v, held(v), plan_.of(v), "the output '" + name + "' (" + ir::value_label(g_, v) + ") is complete"));
    }
    for (const auto& [target, next] : g_.updates) {
      ir::ValueId moved = move(next, held(next), plan_.of(target), "the update of " + ir::value_label(g_, target) +
                                                                       " keeps its sharding");
      out_.graph.updates.emplace_back(local_[target], moved);
    }
    return std::move(out_);
  }

 private:
  ir::TensorType local_type(ir::ValueId v, const Sharding& s) const {
    try {
      return {g_.type(v).dtype, collectives::local_shape(g_.type(v).shape, plan_.mesh.sizes, s)};
    } catch (const Error& e) {
      throw Error(ir::value_label(g_, v) + " " + ir::to_string(g_.type(v)) + ": " + e.what());
    }
  }

  ir::ValueId add(ir::Node n) {
    out_.graph.nodes.push_back(std::move(n));
    return out_.graph.size() - 1;
  }

  void source(ir::ValueId v) {
    ir::Node n = g_.node(v);
    n.type = local_type(v, plan_.of(v));
    n.attrs.set("global", g_.type(v).shape);
    n.attrs.set("layout", collectives::encode(plan_.of(v)));
    local_[v] = add(std::move(n));
  }

  // The lowered value of global `v` (held as `from`) turned into `to`. Layouts that differ
  // only in axes of one device hold the same data: no collective (ZeRO on one device is
  // the replicated step).
  ir::ValueId move(ir::ValueId v, const Sharding& from, const Sharding& to, const std::string& reason) {
    ir::ValueId held = local_[v];
    if (!collectives::moves_between_devices(from, to, plan_.mesh.sizes)) return held;
    auto key = std::make_pair(held, collectives::encode(to));
    if (auto it = moved_.find(key); it != moved_.end()) return it->second;
    ir::Node n{"redistribute", {held}, {}, local_type(v, to), ""};
    n.attrs.set("from", collectives::encode(from));
    n.attrs.set("to", collectives::encode(to));
    n.attrs.set("global", g_.type(v).shape);
    n.attrs.set("reason", reason);
    ir::ValueId at = add(std::move(n));
    record(at, v, from, to, reason);
    moved_[key] = at;
    return at;
  }

  void record(ir::ValueId at, ir::ValueId v, const Sharding& from, const Sharding& to, const std::string& reason) {
    CollectiveRecord r{at, ir::value_label(g_, v), sharding_text(from, plan_.mesh), sharding_text(to, plan_.mesh), "", 0, reason,
                       g_.type(v).shape, from, to};
    for (const auto& step : collectives::plan_redistribution(g_.type(v).shape, plan_.mesh.sizes, from, to)) {
      r.steps += (r.steps.empty() ? "" : ", ") + step.describe();
    }
    for (int a = 0; a < static_cast<int>(plan_.mesh.names.size()); ++a) {
      std::string code = "a" + std::to_string(a);
      for (size_t at_ = r.steps.find(code); at_ != std::string::npos; at_ = r.steps.find(code)) {
        r.steps.replace(at_, code.size(), plan_.mesh.names[a]);
      }
    }
    r.bytes = std::max(local_type(v, from).bytes(), local_type(v, to).bytes());
    out_.collectives.push_back(std::move(r));
  }

  // How the lowered value of `v` is laid out now: as planned, or a partial sum not yet
  // reduced (see compute).
  const Sharding& held(ir::ValueId v) const { return pending_[v] ? *pending_[v] : plan_.of(v); }

  // An op linear in its operands together (add, sub) of partial sums over the same axes is
  // the partial sum of its result: summing first and reducing once saves a collective
  // (Megatron's backward adds the q, k and v input gradients).
  bool sums_partials(ir::ValueId v, const OpLayout& l) const {
    const ir::Node& n = g_.node(v);
    if (ir::op_traits(n.op).partial_sums != ir::PartialSums::stay_partial) return false;
    if (!l.result.partial.empty()) return false;
    const std::optional<Sharding>& first = pending_[n.inputs[0]];
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      ir::ValueId x = n.inputs[i];
      if (!pending_[x] || *pending_[x] != *first || g_.type(x) != g_.type(v)) return false;
      if (pending_[x]->dims != l.operands[i].dims) return false;
    }
    return l.result.dims == first->dims;
  }

  std::string why(ir::ValueId v) const {
    const std::string& o = plan_.origin[v];
    return o.empty() ? "replicated by default" : "set by " + o;
  }

  void compute(ir::ValueId v) {
    const ir::Node& global = g_.node(v);
    std::optional<OpFactors> computed;
    if (!table_) computed = op_factors(g_, v);
    const OpFactors& f = table_ ? table_->of(v) : *computed;
    OpLayout l = op_layout(plan_, v, f);
    if (sums_partials(v, l)) {
      l.result = *pending_[global.inputs[0]];
      ir::Node n{global.op, {}, global.attrs, local_type(v, l.result), global.name};
      for (ir::ValueId x : global.inputs) n.inputs.push_back(local_[x]);
      local_[v] = add(std::move(n));
      pending_[v] = l.result;
      return;
    }
    ir::Node n{global.op, {}, global.attrs, local_type(v, l.result), global.name};
    for (size_t i = 0; i < global.inputs.size(); ++i) {
      ir::ValueId x = global.inputs[i];
      if (held(x) == l.operands[i]) {  // no move, so no reason to write
        n.inputs.push_back(local_[x]);
        continue;
      }
      std::string reason = ir::value_label(g_, v) + " = " + global.op + " needs operand " + std::to_string(i) + " " +
                           ir::value_label(g_, x) + " as " + sharding_text(l.operands[i], plan_.mesh) + "; it is " +
                           sharding_text(held(x), plan_.mesh) + " (" + why(x) + ")";
      n.inputs.push_back(move(x, held(x), l.operands[i], reason));
    }
    if (auto localize = ir::op_traits(global.op).localize) localize(n, global);
    ir::ValueId at = add(std::move(n));
    at = rescale_partial_mean(v, l, at);
    local_[v] = at;
    const Sharding& planned = plan_.of(v);
    if (l.result.dims == planned.dims && planned.partial.empty() && !l.result.partial.empty()) {
      pending_[v] = l.result;  // reduced where a consumer needs it whole, perhaps after a sum
      return;
    }
    if (l.result == planned) return;
    std::string reason = ir::value_label(g_, v) + " = " + global.op + " leaves " + sharding_text(l.result, plan_.mesh) +
                         "; the plan holds it as " + sharding_text(planned, plan_.mesh) + " (" + why(v) + ")";
    local_[v] = move(v, l.result, planned, reason);
  }

  // A mean over a split dimension: each device's local mean must count for its share only,
  // so that the partial sums add up to the global mean.
  ir::ValueId rescale_partial_mean(ir::ValueId v, const OpLayout& l, ir::ValueId at) {
    if (ir::op_traits(g_.node(v).op).partial_sums != ir::PartialSums::mean_rescaled) return at;
    if (l.result.partial.empty()) return at;
    double shards = 1;
    for (int a : l.result.partial) shards *= plan_.mesh.sizes[a];
    ir::Attrs value;
    value.set("value", 1.0 / shards);
    ir::ValueId c = add({"constant", {}, value, {ir::DType::f32, {}}, ""});
    return add({"mul", {at, c}, {}, out_.graph.type(at), ""});
  }

  const ir::Graph& g_;
  const Plan& plan_;
  const FactorTable* table_;
  Program out_;
  std::vector<ir::ValueId> local_;
  std::vector<std::optional<Sharding>> pending_;  // partial sums not yet reduced
  std::map<std::pair<ir::ValueId, std::string>, ir::ValueId> moved_;
};

}  // namespace

Program rematerialize(const Program& p) {
  ir::Rematerialized r = ir::rematerialize(p.graph);
  Program out{std::move(r.graph), {}, r.recomputed};
  std::vector<int> record(p.graph.nodes.size(), -1);
  for (size_t i = 0; i < p.collectives.size(); ++i) record[p.collectives[i].at] = static_cast<int>(i);
  for (ir::ValueId v = 0; v < out.graph.size(); ++v) {
    ir::ValueId from = r.origin[v];
    if (record[from] < 0) continue;
    CollectiveRecord c = p.collectives[record[from]];
    if (r.moved[from] != v) c.reason = "recomputed for backward: " + c.reason;
    c.at = v;
    out.collectives.push_back(std::move(c));
  }
  return out;
}

const Program& rematerialized_if(const Program& p, bool recompute, Program& storage) {
  if (!recompute) return p;
  storage = rematerialize(p);
  return storage;
}

Program lower_ops(const ir::Graph& g, const Plan& plan, const FactorTable* table) { return Lowering(g, plan, table).run(); }

Program finish_lowering(const Program& lowered, bool rematerialize, int prefetch) {
  return schedule_for_overlap(rematerialize ? partitioner::rematerialize(lowered) : lowered, prefetch);
}

Program lower(const ir::Graph& g, const Plan& plan, const FactorTable* table) {
  return finish_lowering(lower_ops(g, plan, table), plan.rematerialize);
}

}  // namespace spmd::partitioner
