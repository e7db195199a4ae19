// Dimension analysis: which (value, dimension) pairs fall into one class, what the classes
// are called, and where sharding a class needs a redistribution (the conflicts).
#include "partitioner/dimensions.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "ir/autodiff.h"
#include "ir/builder.h"
#include "ir/models/zoo.h"

namespace spmd::partitioner {
namespace {

ir::Graph small_gpt_step() {
  return ir::training_step(ir::build_model("gpt:layers=1,d_model=32,heads=2,seq=16,vocab=64,batch=4"), {});
}

ir::ValueId named(const ir::Graph& g, const std::string& name) {
  auto v = g.find(name);
  EXPECT_TRUE(v.has_value()) << name;
  return v.value_or(0);
}

std::string class_name(const DimensionAnalysis& a, ir::ValueId v, int dim) {
  int c = a.class_of.at(static_cast<size_t>(v)).at(static_cast<size_t>(dim));
  return c < 0 ? "(none)" : a.classes.at(static_cast<size_t>(c)).name;
}

bool has_conflict(const DimensionAnalysis& a, ir::ValueId at, const std::string& part) {
  return std::any_of(a.conflicts.begin(), a.conflicts.end(), [&](const DimensionConflict& c) {
    return c.at == at && c.what.find(part) != std::string::npos;
  });
}

TEST(Dimensions, NamesTheClassesOfGpt) {
  ir::Graph g = small_gpt_step();
  DimensionAnalysis a = analyze_dimensions(g);
  EXPECT_EQ(class_name(a, named(g, "wte"), 1), "d_model");
  // The embedding's rows and the logits' classes are both the vocabulary (untied: two classes).
  EXPECT_EQ(class_name(a, named(g, "wte"), 0).substr(0, 5), "vocab");
  EXPECT_EQ(class_name(a, named(g, "head.w"), 1).substr(0, 5), "vocab");
  EXPECT_EQ(class_name(a, named(g, "tokens"), 0), "batch");
  EXPECT_EQ(class_name(a, named(g, "tokens"), 1), "sequence");
  EXPECT_EQ(class_name(a, named(g, "layer0.mlp.w_in"), 1), "d_ff");
  EXPECT_EQ(class_name(a, named(g, "layer0.attn.wq"), 1), "heads");
  EXPECT_GE(a.class_named("head_dim"), 0);
  EXPECT_EQ(a.class_named("nothing such"), -1);
}

TEST(Dimensions, JoinsWhatAnOpsFactorsJoin) {
  ir::Graph g = small_gpt_step();
  DimensionAnalysis a = analyze_dimensions(g);
  // Column-parallel then row-parallel: w_in's columns are w_out's rows; the optimizer state
  // of a param is sharded like the param.
  EXPECT_EQ(a.class_of[named(g, "layer0.mlp.w_in")][1], a.class_of[named(g, "layer0.mlp.w_out")][0]);
  EXPECT_EQ(a.class_of[named(g, "layer0.mlp.w_in")][1], a.class_of[named(g, "layer0.mlp.w_in.adam_m")][1]);
  EXPECT_EQ(a.class_of[named(g, "tokens")][0], a.class_of[named(g, "targets")][0]);
  // Every member is listed under its class, and the classes come largest first.
  for (size_t c = 0; c < a.classes.size(); ++c) {
    for (const DimRef& m : a.classes[c].members) EXPECT_EQ(a.class_of[m.value][m.dim], static_cast<int>(c));
    if (c > 0) {
      EXPECT_GE(a.classes[c - 1].members.size(), a.classes[c].members.size());
    }
  }
}

TEST(Dimensions, SizeOneDimensionsHaveNoClass) {
  ir::Graph g;
  ir::Builder b(g);
  ir::ValueId x = b.param("x", {1, 8});
  b.relu(x);
  DimensionAnalysis a = analyze_dimensions(g);
  EXPECT_EQ(a.class_of[x][0], -1);
  EXPECT_GE(a.class_of[x][1], 0);
}

TEST(Dimensions, AttentionScoresHoldTheSequenceTwice) {
  ir::Graph g = small_gpt_step();
  DimensionAnalysis a = analyze_dimensions(g);
  // The scores q k^T: [batch, heads, sequence, sequence].
  ir::ValueId scores = -1;
  for (ir::ValueId v = 0; v < g.size() && scores < 0; ++v) {
    const ir::Node& n = g.node(v);
    if (n.op == "matmul" && n.attrs.i("transpose_b", 0) && n.type.rank() == 4) scores = v;
  }
  ASSERT_GE(scores, 0);
  EXPECT_EQ(class_name(a, scores, 2), "sequence");
  EXPECT_EQ(class_name(a, scores, 3), "sequence");
  EXPECT_TRUE(has_conflict(a, scores, "dimensions 2 and 3 of")) << ir::value_label(g, scores);
}

TEST(Dimensions, AValueWithTwoDimensionsInOneClassIsAConflict) {
  ir::Graph g;
  ir::Builder b(g);
  ir::ValueId x = b.param("x", {4, 8});
  ir::ValueId gram = b.matmul(x, x, false, true);  // [4,4]: both dimensions are x's rows
  DimensionAnalysis a = analyze_dimensions(g);
  EXPECT_EQ(a.class_of[gram][0], a.class_of[x][0]);
  EXPECT_EQ(a.class_of[gram][1], a.class_of[x][0]);
  ASSERT_TRUE(has_conflict(a, gram, "dimensions 0 and 1 of")) << a.conflicts.size();
  for (const DimensionConflict& c : a.conflicts) {
    if (c.at == gram) {
      EXPECT_EQ(c.class_id, a.class_of[x][0]);
    }
  }
}

TEST(Dimensions, SoftmaxNeedsItsAxisWhole) {
  ir::Graph g;
  ir::Builder b(g);
  ir::ValueId x = b.param("x", {4, 8});
  ir::ValueId w = b.param("w", {8, 16});
  ir::ValueId h = b.matmul(x, w);  // [4,16]: its columns are w's
  ir::ValueId p = b.softmax(h, -1);
  DimensionAnalysis a = analyze_dimensions(g);
  EXPECT_EQ(a.class_of[h][1], a.class_of[w][1]);
  EXPECT_TRUE(has_conflict(a, p, "softmax " + ir::value_label(g, p) + " needs dimension 1 of " + ir::value_label(g, h) +
                                     " whole"));
  // Its rows may be split: no conflict on them.
  for (const DimensionConflict& c : a.conflicts) EXPECT_NE(c.class_id, a.class_of[h][0]) << c.what;
}

TEST(Dimensions, LayernormNeedsItsFeaturesWhole) {
  ir::Graph g = small_gpt_step();
  DimensionAnalysis a = analyze_dimensions(g);
  int d_model = a.class_named("d_model");
  ASSERT_GE(d_model, 0);
  bool found = std::any_of(a.conflicts.begin(), a.conflicts.end(), [&](const DimensionConflict& c) {
    return c.class_id == d_model && g.node(c.at).op == "layernorm";
  });
  EXPECT_TRUE(found);
}

TEST(Dimensions, ScalesLinearlyWithoutTensors) {
  // A deep model: the analysis is a union-find over the ops' rules, not over any tensor.
  ir::Graph g = ir::training_step(ir::build_model("gpt:layers=24,d_model=4096,heads=32"), {});
  DimensionAnalysis a = analyze_dimensions(g);
  EXPECT_EQ(class_name(a, named(g, "layer23.mlp.w_in"), 1).substr(0, 4), "d_ff");
  EXPECT_GT(a.classes.size(), 24u * 5);
}

}  // namespace
}  // namespace spmd::partitioner
