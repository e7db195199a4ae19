// Rematerialization keeps the residual stream between layers and recomputes the rest for
// backward: found from the structure, the same for any names, and a graph without backward
// is left alone.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "ir/ops.h"
#include "ir/rematerialize.h"
#include "ir/verify.h"

namespace spmd::ir {
namespace {

Graph gpt_step(int layers) {
  return training_step(build_model("gpt:layers=" + std::to_string(layers) + ",d_model=16,heads=2,seq=8,vocab=16,batch=2"), {});
}

// The non-source nodes the outputs depend on.
std::vector<bool> forward_of(const Graph& g) {
  std::vector<bool> forward(g.nodes.size(), false);
  for (const auto& [name, v] : g.outputs) forward[v] = true;
  for (ValueId v = g.size() - 1; v >= 0; --v) {
    if (!forward[v]) continue;
    if (g.node(v).is_source()) forward[v] = false;
    for (ValueId x : g.node(v).inputs) forward[x] = true;
  }
  return forward;
}

// The forward values backward reads: what stays live from the forward pass into backward.
std::set<ValueId> kept_for_backward(const Graph& g) {
  std::vector<bool> forward = forward_of(g);
  std::set<ValueId> kept;
  for (ValueId v = 0; v < g.size(); ++v) {
    if (forward[v] || g.node(v).is_source()) continue;
    for (ValueId x : g.node(v).inputs) {
      if (forward[x]) kept.insert(x);
    }
  }
  return kept;
}

TEST(Rematerialize, KeepsOneValuePerLayerBoundaryAndRecomputesTheRest) {
  std::map<int, int> checkpoints;
  for (int layers : {1, 3}) {
    Graph g = gpt_step(layers);
    Rematerialized r = rematerialize(g);
    checkpoints[layers] = r.checkpoints;
    EXPECT_NO_THROW(verify(r.graph));
    EXPECT_GT(r.recomputed, 0);
    EXPECT_LT(kept_for_backward(r.graph).size(), kept_for_backward(g).size() / 2) << layers << " layers";
    ASSERT_EQ(r.origin.size(), r.graph.nodes.size());
    for (ValueId v = 0; v < r.graph.size(); ++v) EXPECT_EQ(r.graph.node(v).op, g.node(r.origin[v]).op);
    EXPECT_EQ(r.graph.size(), g.size() + r.recomputed);
    EXPECT_EQ(r.graph.updates.size(), g.updates.size());
    EXPECT_EQ(r.graph.output("loss"), r.moved[g.output("loss")]);
  }
  // Two per layer: after attention and after the MLP, each a residual add that alone
  // carries the data on. (The rest are the chain of the embedding and of the loss.)
  EXPECT_EQ(checkpoints[3] - checkpoints[1], 4);
}

TEST(Rematerialize, RecomputesEachValueOnceJustBeforeBackwardReadsIt) {
  Graph g = gpt_step(2);
  Rematerialized r = rematerialize(g);
  std::vector<bool> forward = forward_of(r.graph);
  std::vector<int> copies(g.nodes.size(), 0);
  for (ValueId v = 0; v < r.graph.size(); ++v) {
    if (r.moved[r.origin[v]] == v) continue;
    ++copies[r.origin[v]];
    EXPECT_FALSE(forward[v]) << "a copy in the forward pass: " << value_label(r.graph, v);
  }
  for (int c : copies) EXPECT_LE(c, 1);
}

TEST(Rematerialize, LeavesAGraphWithoutBackwardAlone) {
  Graph model = build_model("gpt:layers=2,d_model=16,heads=2,seq=8,vocab=16,batch=2");
  Rematerialized r = rematerialize(model);
  EXPECT_EQ(r.recomputed, 0);
  EXPECT_EQ(r.graph, model);
}

TEST(Rematerialize, NamesDoNotMatter) {
  Graph g = gpt_step(2);
  Graph renamed = g;
  for (size_t i = 0; i < renamed.nodes.size(); ++i) {
    if (!renamed.nodes[i].name.empty()) renamed.nodes[i].name = "v" + std::to_string(i * 7 + 3);
  }
  Rematerialized a = rematerialize(g), b = rematerialize(renamed);
  EXPECT_EQ(a.origin, b.origin);
  EXPECT_EQ(a.checkpoints, b.checkpoints);
}

}  // namespace
}  // namespace spmd::ir
