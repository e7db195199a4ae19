// Tactics (PartIR): sharding decisions kept apart from the model. A tactics file names the
// mesh and an ordered list of tactics; each shards a dimension of the values its pattern
// picks along one mesh axis, and propagation spreads it through the program before the next
// tactic runs.
//
//   {"mesh": {"data": 2, "model": 2},
//    "tactics": [
//      {"values": "input:tokens", "dim": 0, "axis": "data"},
//      {"values": "param:layer*.attn.w[qkv]", "dim": 1, "axis": "model"},
//      {"values": "class:d_ff", "axis": "model"},
//      {"values": "param:*", "dim": "first_divisible", "axis": "data", "scope": "optimizer"}],
//    "rematerialize": true}
//
// Patterns are KIND:GLOB over value names (KIND: param, input, state, value; GLOB as in
// fnmatch(3)), or class:NAME for a dimension class of spmd analyze (class:d_ff: the d_ff
// class of every layer; class:d_ff#2 only that one, class:d_ff#1 the one printed d_ff); a
// class tactic needs no "dim". "dim" may be
// "first_divisible" (the first dimension the axis divides, values with none skipped).
// "scope": "optimizer" keeps the propagation inside the optimizer's update (ZeRO).
// "rematerialize" (optional, default false) recomputes activations for backward.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ir/graph.h"
#include "partitioner/dimensions.h"
#include "partitioner/factors.h"
#include "partitioner/mesh.h"
#include "partitioner/plan.h"

namespace spmd::partitioner {

struct Tactic {
  std::string values;            // the pattern
  int dim = 0;                   // -1: the first dimension the axis divides
  std::string axis;
  std::string scope = "all";     // "all" or "optimizer"
  std::string describe() const;  // "param:layer*.mlp.w_in dim 1 -> model"
};

struct Tactics {
  Mesh mesh;
  std::vector<Tactic> tactics;
  bool rematerialize = false;  // recompute activations for backward (plan.h)
};

// Reads a tactics file; malformed JSON or fields are spmd::Errors naming the file and tactic.
Tactics read_tactics(const std::string& path);
Tactics tactics_from_json(const nlohmann::ordered_json& j);

// The plan that the tactics give for `g`: every value replicated, then each tactic in order.
// A tactic that cannot apply (unknown axis, a pattern that matches nothing, a dimension the
// axis does not divide) is an spmd::Error naming it ("tactic 2 (...): ...").
Plan apply_tactics(const ir::Graph& g, const Tactics& t);

// What applying many tactics to one graph can compute once (the search does, for every
// candidate): the ops' factors and the dimension analysis. Cost: one analysis of the graph.
struct GraphAnalysis {
  explicit GraphAnalysis(const ir::Graph& g) : graph(g), factors(g), dimensions(analyze_dimensions(g)) {}
  const ir::Graph& graph;
  FactorTable factors;
  DimensionAnalysis dimensions;
};
// The same plan as apply_tactics(a.graph, t), without computing the analysis again.
Plan apply_tactics(const GraphAnalysis& a, const Tactics& t);

// The built-in strategies for `ranks` devices: dp (batch over data), megatron (attention by
// heads and MLP column then row, over model), dp+megatron (both, on data x model), zero
// (dp, with optimizer state, gradients and parameters sharded over data). Megatron's heads
// and MLP hidden dimensions are the dimension analysis's classes of those roles, found from
// the program's structure, not from names. Throws for an unknown name, and for Megatron on
// a model with no heads or MLP to split, or whose heads or MLP columns the axis would cut.
Tactics builtin_strategy(const std::string& name, const ir::Graph& g, int ranks);
std::vector<std::string> builtin_strategies();

}  // namespace spmd::partitioner
