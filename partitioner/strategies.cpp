// The built-in strategies, written as tactics like any user's.
#include "common/error.h"
#include "ir/models/zoo.h"
#include "partitioner/tactics.h"

namespace spmd::partitioner {
namespace {

bool has_param(const ir::Graph& g, const std::string& name) {
  auto v = g.find(name);
  return v && g.node(*v).op == "param";
}

// Every data input (not the learning rate or step) split along its first (batch) dimension.
void add_data_parallel(const ir::Graph& g, const std::string& axis, std::vector<Tactic>& out) {
  for (ir::ValueId v : g.nodes_with_op("input")) {
    const ir::Node& n = g.node(v);
    if (n.type.rank() > 0) out.push_back({"input:" + n.name, 0, axis, "all"});
  }
}

// Megatron-LM (Shoeybi et al. 2019): attention split by heads (q, k, v column-parallel, the
// output projection row-parallel) and each MLP column- then row-parallel. For the MLP
// model, the hidden layers alternate column and row.
void add_megatron(const ir::Graph& g, const std::string& axis, int size, std::vector<Tactic>& out) {
  if (has_param(g, "layer0.attn.wq")) {
    // Megatron splits attention by whole heads: a split inside a head is no Megatron.
    if (ir::is_model_spec(g.meta.s("model", ""))) {
      int64_t heads = ir::parse_model_spec(g.meta.s("model")).params.at("heads");
      if (heads % size != 0) {
        throw Error("strategy megatron: heads=" + std::to_string(heads) + " do not split over " + std::to_string(size) +
                    " devices of axis '" + axis + "'");
      }
    }
    for (const char* w : {"wq", "wk", "wv"}) out.push_back({std::string("param:layer*.attn.") + w, 1, axis, "all"});
    for (const char* b : {"bq", "bk", "bv"}) out.push_back({std::string("param:layer*.attn.") + b, 0, axis, "all"});
    out.push_back({"param:layer*.attn.wo", 0, axis, "all"});
    out.push_back({"param:layer*.mlp.w_in", 1, axis, "all"});
    out.push_back({"param:layer*.mlp.b_in", 0, axis, "all"});
    out.push_back({"param:layer*.mlp.w_out", 0, axis, "all"});
    return;
  }
  for (int l = 0; has_param(g, "layer" + std::to_string(l) + ".w"); l += 2) {
    out.push_back({"param:layer" + std::to_string(l) + ".w", 1, axis, "all"});
    out.push_back({"param:layer" + std::to_string(l) + ".b", 0, axis, "all"});
  }
}

}  // namespace

std::vector<std::string> builtin_strategies() { return {"dp", "megatron", "dp+megatron", "zero"}; }

Tactics builtin_strategy(const std::string& name, const ir::Graph& g, int ranks) {
  Tactics t;
  if (name == "dp") {
    t.mesh = {{"data"}, {ranks}};
    add_data_parallel(g, "data", t.tactics);
  } else if (name == "megatron") {
    t.mesh = {{"model"}, {ranks}};
    add_megatron(g, "model", ranks, t.tactics);
  } else if (name == "dp+megatron") {
    int model = ranks % 2 == 0 ? 2 : 1;
    t.mesh = {{"data", "model"}, {ranks / model, model}};
    add_data_parallel(g, "data", t.tactics);
    add_megatron(g, "model", model, t.tactics);
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
