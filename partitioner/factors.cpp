#include "partitioner/factors.h"

#include "ir/ops.h"

namespace spmd::partitioner {

OpFactors op_factors(const ir::Graph& g, ir::ValueId v) {
  OpFactors f;
  f.rule = ir::sharding_rule(g, v);
  const size_t n = f.rule.factor_size.size();
  f.places.resize(n);
  f.shardable.assign(n, true);
  for (size_t k = 0; k < n; ++k) f.shardable[k] = f.rule.factor_kind[k] != ir::FactorKind::replicated;
  auto visit = [&](ir::ValueId value, int operand, const std::vector<std::vector<int>>& dims) {
    for (size_t d = 0; d < dims.size(); ++d) {
      for (size_t i = 0; i < dims[d].size(); ++i) {
        int factor = dims[d][i];
        if (i == 0) f.places[factor].push_back({value, static_cast<int>(d), operand});
        else f.shardable[factor] = false;
      }
    }
  };
  const ir::Node& node = g.node(v);
  for (size_t i = 0; i < node.inputs.size(); ++i) visit(node.inputs[i], static_cast<int>(i), f.rule.operands[i]);
  visit(v, -1, f.rule.result);
  return f;
}

FactorTable::FactorTable(const ir::Graph& g) : factors_(g.nodes.size()), first_placing_(g.nodes.size() + 1, 0) {
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    if (g.node(v).is_source() || ir::op_traits(g.node(v).op).collective) continue;
    factors_[v] = op_factors(g, v);
    ops_.push_back(v);
  }
  for (ir::ValueId op : ops_) {
    for (const auto& places : factors_[op].places) {
      for (const Place& p : places) ++first_placing_[p.value + 1];
    }
  }
  for (size_t v = 0; v < g.nodes.size(); ++v) first_placing_[v + 1] += first_placing_[v];
  placing_.resize(first_placing_.back());
  std::vector<size_t> next(first_placing_.begin(), first_placing_.end() - 1);
  for (ir::ValueId op : ops_) {
    for (const auto& places : factors_[op].places) {
      for (const Place& p : places) placing_[next[p.value]++] = op;
    }
  }
}

}  // namespace spmd::partitioner
