// The built-in strategies, written as tactics like any user's. What they split is found by
// the dimension analysis (TOAST's named dimensions), from the program's structure: nothing
// here reads a value's name or the zoo's hyper-parameters, so a model from an IR file is
// partitioned as the zoo's is.
#include <algorithm>
#include <map>

#include "common/error.h"
#include "partitioner/dimensions.h"
#include "partitioner/strategy_parts.h"
#include "partitioner/tactics.h"

namespace spmd::partitioner {

// Every data input (not the learning rate or step) split along its first (batch) dimension.
void add_data_parallel(const ir::Graph& g, const std::string& axis, std::vector<Tactic>& out) {
  for (ir::ValueId v : g.nodes_with_op("input")) {
    const ir::Node& n = g.node(v);
    if (n.type.rank() > 0) out.push_back({"input:" + n.name, 0, axis, "all"});
  }
}

// The classes Megatron-LM (Shoeybi et al. 2019) splits: the attention heads (q, k and v
// column-parallel, the output projection row-parallel: all members of the heads class) and
// the hidden dimension of each MLP (its first layer column-parallel, the next row-parallel).
// In a chain of several hidden layers every other one is split: the row-parallel layer's
// output is summed whole before the next pair, as an axis cannot split both dimensions of
// one weight.
MegatronClasses megatron_classes(const DimensionAnalysis& a, const std::string& strategy) {
  MegatronClasses m;
  m.heads = a.classes_with_role("heads");
  for (const std::vector<int>& chain : a.mlp_chains) {
    for (size_t i = 0; i < chain.size(); i += 2) m.hidden.push_back(chain[i]);
  }
  if (m.heads.empty() && m.hidden.empty()) {
    throw Error("strategy " + strategy + ": the model has neither attention heads nor an MLP hidden dimension to split "
                "(see spmd analyze)");
  }
  return m;
}

// Megatron splits attention by whole heads and an MLP by whole columns: a split inside a
// head is no Megatron.
void check_divides(const DimensionAnalysis& a, const MegatronClasses& m, const std::string& axis, int size) {
  std::string devices = std::to_string(size) + " devices of axis '" + axis + "'";
  for (int c : m.heads) {
    if (a.classes[c].size % size != 0) {
      throw Error("strategy megatron: heads=" + std::to_string(a.classes[c].size) + " do not split over " + devices);
    }
  }
  for (int c : m.hidden) {
    if (a.classes[c].size % size != 0) {
      throw Error("strategy megatron: the MLP hidden dimension (" + std::to_string(a.classes[c].size) +
                  ") does not split over " + devices);
    }
  }
}

namespace {

// One tactic per role whose every class is split ("class:d_ff": all layers), else one per
// class ("class:hidden#1").
std::vector<std::string> class_patterns(const DimensionAnalysis& a, const std::vector<int>& split) {
  std::map<std::string, size_t> of_role, split_of_role;
  for (const DimensionClass& c : a.classes) ++of_role[c.role];
  for (int c : split) ++split_of_role[a.classes[c].role];
  std::vector<std::string> out;
  for (int c : split) {
    const DimensionClass& k = a.classes[c];
    std::string pattern = "class:" + k.role;
    if (split_of_role[k.role] < of_role[k.role]) pattern += k.name == k.role ? "#1" : k.name.substr(k.role.size());
    if (std::find(out.begin(), out.end(), pattern) == out.end()) out.push_back(pattern);
  }
  return out;
}

}  // namespace

void add_megatron(const DimensionAnalysis& a, const MegatronClasses& m, const std::string& axis, int size,
                  std::vector<Tactic>& out) {
  check_divides(a, m, axis, size);
  std::vector<int> split = m.heads;
  split.insert(split.end(), m.hidden.begin(), m.hidden.end());
  for (const std::string& pattern : class_patterns(a, split)) out.push_back({pattern, 0, axis, "all"});
}

bool divides_all(const DimensionAnalysis& a, const MegatronClasses& m, int size) {
  auto divides = [&](int c) { return a.classes[c].size % size == 0; };
  return std::all_of(m.heads.begin(), m.heads.end(), divides) && std::all_of(m.hidden.begin(), m.hidden.end(), divides);
}

namespace {

// dp+megatron's model axis: the largest size that divides the ranks, every heads class and
// every split MLP hidden class, among the sizes that leave a data axis of at least 2 where
// one of those fits (4 ranks: 2 x 2; 8: 2 x 4 where the heads allow). Where none does (2
// ranks, or a prime number) the model axis takes every rank and the data axis is 1; with
// one rank both are 1. Model parallelism as wide as it divides is what lets the largest
// models fit (Shoeybi et al. 2019 keep it within a node; placement puts the model axis
// innermost, on the fastest links).
int model_axis_size(const DimensionAnalysis& a, const MegatronClasses& m, int ranks) {
  if (ranks == 1) return 1;
  for (bool keep_data : {true, false}) {
    for (int size = keep_data ? ranks / 2 : ranks; size > 1; --size) {
      if (ranks % size == 0 && divides_all(a, m, size)) return size;
    }
  }
  std::string heads = m.heads.empty() ? "" : ", heads=" + std::to_string(a.classes[m.heads[0]].size);
  std::string hidden = m.hidden.empty() ? "" : ", MLP hidden=" + std::to_string(a.classes[m.hidden[0]].size);
  throw Error("strategy dp+megatron: no model-axis size above 1 divides ranks=" + std::to_string(ranks) + heads + hidden);
}

}  // namespace

std::vector<std::string> builtin_strategies() { return {"dp", "megatron", "dp+megatron", "zero"}; }

Tactics builtin_strategy(const std::string& name, const ir::Graph& g, int ranks) {
  Tactics t;
  if (name == "dp") {
    t.mesh = {{"data"}, {ranks}};
    add_data_parallel(g, "data", t.tactics);
  } else if (name == "megatron") {
    DimensionAnalysis a = analyze_dimensions(g);
    t.mesh = {{"model"}, {ranks}};
    add_megatron(a, megatron_classes(a, name), "model", ranks, t.tactics);
  } else if (name == "dp+megatron") {
    DimensionAnalysis a = analyze_dimensions(g);
    MegatronClasses m = megatron_classes(a, name);
    int model = model_axis_size(a, m, ranks);
    t.mesh = {{"data", "model"}, {ranks / model, model}};
    add_data_parallel(g, "data", t.tactics);
    add_megatron(a, m, "model", model, t.tactics);
  } else if (name == "zero") {
    // ZeRO-3 / FSDP (Rajbhandari et al. 2020): data parallel, with each param, its gradient
    // and its optimizer state split over the data axis; the forward and backward passes
    // all-gather a param where they use it.
    t.mesh = {{"data"}, {ranks}};
    add_data_parallel(g, "data", t.tactics);
    t.tactics.push_back({"state:*", -1, "data", "optimizer"});
    t.tactics.push_back({"param:*", -1, "data", "optimizer"});
  } else {
    throw Error("unknown strategy '" + name + "' (expected dp, megatron, dp+megatron or zero)");
  }
  return t;
}

}  // namespace spmd::partitioner
