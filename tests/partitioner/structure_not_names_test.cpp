// Strategies and class names come from the program's structure, not from its value names:
// the zoo's models written out with every value renamed (as a model from elsewhere would
// be) are analysed, planned and lowered exactly as the zoo's are, and Megatron finds heads
// and MLP hidden dimensions, or says it found none, on any model.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "common/error.h"
#include "ir/autodiff.h"
#include "ir/builder.h"
#include "ir/models/zoo.h"
#include "ir/text.h"
#include "partitioner/dimensions.h"
#include "partitioner/lower.h"
#include "partitioner/tactics.h"

namespace spmd::partitioner {
namespace {

const char* kGpt = "gpt:layers=2,d_model=32,heads=4,seq=8,vocab=16,batch=4";
const char* kMlp = "mlp:layers=3,hidden=16,batch=8,features=8,classes=4";

ir::Graph zoo_step(const std::string& model) { return ir::training_step(ir::build_model(model), {}); }

// `g` printed as `spmd ir` prints it and read back with every named value renamed by
// position (params p0, p1 ..., state s0 ..., inputs x0 ...) and no zoo model in its meta.
ir::Graph renamed(const ir::Graph& g) {
  ir::Graph r = g;
  std::map<std::string, int> count;
  for (ir::Node& n : r.nodes) {
    if (n.name.empty()) continue;
    std::string prefix = n.op == "param" ? "p" : n.op == "state" ? "s" : n.op == "input" ? "x" : "v";
    n.name = prefix + std::to_string(count[prefix]++);
  }
  r.meta = {};
  for (const auto& [key, value] : g.meta.all()) {
    if (key != "model") r.meta.set(key, value);
  }
  return ir::parse(ir::print(r), "renamed.ir");
}

// A collective's reason names the values it moves; all else must match.
ir::Attrs without_reason(const ir::Attrs& attrs) {
  ir::Attrs out;
  for (const auto& [key, value] : attrs.all()) {
    if (key != "reason") out.set(key, value);
  }
  return out;
}

void expect_same_program(const Program& zoo, const Program& other, const std::string& where) {
  ASSERT_EQ(zoo.graph.size(), other.graph.size()) << where;
  for (ir::ValueId v = 0; v < zoo.graph.size(); ++v) {
    const ir::Node &a = zoo.graph.node(v), &b = other.graph.node(v);
    EXPECT_TRUE(a.op == b.op && a.inputs == b.inputs && a.type == b.type && without_reason(a.attrs) == without_reason(b.attrs))
        << where << ": value " << v << " is " << a.op << " in the zoo's program, " << b.op << " in the renamed one";
  }
  ASSERT_EQ(zoo.collectives.size(), other.collectives.size()) << where;
  for (size_t i = 0; i < zoo.collectives.size(); ++i) {
    const CollectiveRecord &a = zoo.collectives[i], &b = other.collectives[i];
    EXPECT_TRUE(a.at == b.at && a.from == b.from && a.to == b.to && a.steps == b.steps && a.bytes == b.bytes)
        << where << ": collective " << i << " " << a.steps << " vs " << b.steps;
  }
}

class RenamedModel : public ::testing::TestWithParam<std::tuple<std::string, std::string, int>> {};

TEST_P(RenamedModel, PlansAndLowersAsTheZoosModel) {
  auto [model, strategy, ranks] = GetParam();
  std::string where = model + " " + strategy + " on " + std::to_string(ranks);
  ir::Graph zoo = zoo_step(model), other = renamed(zoo);
  ASSERT_EQ(other.size(), zoo.size());
  Plan a = apply_tactics(zoo, builtin_strategy(strategy, zoo, ranks));
  Plan b = apply_tactics(other, builtin_strategy(strategy, other, ranks));
  EXPECT_EQ(a.mesh, b.mesh) << where;
  EXPECT_EQ(a.shardings, b.shardings) << where;
  Program pa = lower(zoo, a), pb = lower(other, b);
  EXPECT_FALSE(pa.collectives.empty()) << where;
  expect_same_program(pa, pb, where);
}

INSTANTIATE_TEST_SUITE_P(BuiltinStrategies, RenamedModel,
                         ::testing::Combine(::testing::Values(kGpt, kMlp),
                                            ::testing::Values("dp", "megatron", "dp+megatron", "zero"),
                                            ::testing::Values(2, 4)),
                         [](const auto& info) {
                           std::string n = std::string(std::get<0>(info.param)).substr(0, 3) + "_" +
                                           std::get<1>(info.param) + "_" + std::to_string(std::get<2>(info.param));
                           for (char& c : n) {
                             if (c == '+') c = '_';
                           }
                           return n;
                         });

TEST(RenamedModel, NamesTheClassesAsTheZoosModel) {
  for (const char* model : {kGpt, kMlp}) {
    ir::Graph zoo = zoo_step(model), other = renamed(zoo);
    DimensionAnalysis a = analyze_dimensions(zoo), b = analyze_dimensions(other);
    ASSERT_EQ(a.classes.size(), b.classes.size()) << model;
    for (size_t c = 0; c < a.classes.size(); ++c) {
      EXPECT_EQ(a.classes[c].name, b.classes[c].name) << model;
      EXPECT_EQ(a.classes[c].size, b.classes[c].size) << model;
    }
    EXPECT_EQ(a.class_of, b.class_of) << model;
    EXPECT_EQ(a.mlp_chains, b.mlp_chains) << model;
  }
}

std::string sharding_of(const ir::Graph& g, const Plan& p, const std::string& name) {
  return sharding_text(p.of(*g.find(name)), p.mesh);
}

TEST(Megatron, SplitsEveryOtherHiddenLayerOfAPlainMlp) {
  // Column- then row-parallel pairs: the second pair starts whole after the first's sum.
  ir::Graph g = zoo_step(kMlp);
  Plan plan = apply_tactics(g, builtin_strategy("megatron", g, 2));
  EXPECT_EQ(sharding_of(g, plan, "layer0.w"), "[-, model]");
  EXPECT_EQ(sharding_of(g, plan, "layer0.b"), "[model]");
  EXPECT_EQ(sharding_of(g, plan, "layer1.w"), "[model, -]");
  EXPECT_EQ(sharding_of(g, plan, "layer1.b"), "[-]");
  EXPECT_EQ(sharding_of(g, plan, "layer2.w"), "[-, model]");
  EXPECT_EQ(sharding_of(g, plan, "head.w"), "[model, -]");
  EXPECT_EQ(sharding_of(g, plan, "head.b"), "[-]");
}

TEST(Megatron, FindsHeadsOfASingleDimension) {
  // head_dim 1: the reshape [B,S,D] -> [B,S,H,1] still splits out the heads.
  ir::Graph g = zoo_step("gpt:layers=1,d_model=8,heads=8,seq=4,vocab=16,batch=2");
  Plan plan = apply_tactics(g, builtin_strategy("megatron", g, 2));
  EXPECT_EQ(sharding_of(g, plan, "layer0.attn.wq"), "[-, model]");
  EXPECT_EQ(sharding_of(g, plan, "layer0.attn.wo"), "[model, -]");
}

std::string error_of(const std::string& strategy, const ir::Graph& g, int ranks) {
  try {
    builtin_strategy(strategy, g, ranks);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Megatron, AModelWithNothingToSplitIsAnError) {
  // A linear classifier: no heads, no hidden layer. Megatron must say so, not plan nothing.
  ir::Graph g;
  ir::Builder b(g);
  ir::ValueId x = b.input("x", {ir::DType::f32, {8, 4}}, "features");
  ir::ValueId labels = b.input("y", {ir::DType::i32, {8}}, "labels");
  ir::ValueId logits = b.matmul(x, b.param("w", {4, 6}, "normal", 0.1));
  g.outputs.emplace_back("loss", b.reduce_mean(b.cross_entropy(logits, labels), {0}));
  ir::Graph step = ir::training_step(g, {});
  for (const char* s : {"megatron", "dp+megatron"}) {
    EXPECT_EQ(error_of(s, step, 2), std::string("strategy ") + s +
                                        ": the model has neither attention heads nor an MLP hidden dimension to split "
                                        "(see spmd analyze)");
  }
}

TEST(Megatron, SplitsAnMlpByWholeColumns) {
  ir::Graph g = zoo_step("mlp:layers=2,hidden=24");
  EXPECT_EQ(error_of("megatron", g, 5),
            "strategy megatron: the MLP hidden dimension (24) does not split over 5 devices of axis 'model'");
  EXPECT_EQ(error_of("megatron", renamed(g), 5), error_of("megatron", g, 5));
}

std::string mesh_of(const std::string& model, int ranks) {
  ir::Graph g = zoo_step(model);
  return builtin_strategy("dp+megatron", g, ranks).mesh.to_string();
}

TEST(DpMegatron, TakesTheWidestModelAxisThatDividesAndKeepsADataAxis) {
  // gpt heads=4, d_ff=128.
  EXPECT_EQ(mesh_of(kGpt, 1), "{data: 1, model: 1}");
  EXPECT_EQ(mesh_of(kGpt, 2), "{data: 1, model: 2}");
  EXPECT_EQ(mesh_of(kGpt, 4), "{data: 2, model: 2}");
  EXPECT_EQ(mesh_of(kGpt, 8), "{data: 2, model: 4}");
  EXPECT_EQ(mesh_of(kGpt, 16), "{data: 4, model: 4}");
  EXPECT_EQ(mesh_of("gpt:layers=1,d_model=32,heads=2,seq=8,vocab=16,batch=4", 8), "{data: 4, model: 2}");
  EXPECT_EQ(mesh_of("mlp:layers=2,hidden=24", 6), "{data: 2, model: 3}");
  EXPECT_EQ(mesh_of("mlp:layers=2,hidden=24", 3), "{data: 1, model: 3}");
  EXPECT_EQ(error_of("dp+megatron", zoo_step(kGpt), 3),
            "strategy dp+megatron: no model-axis size above 1 divides ranks=3, heads=4, MLP hidden=128");
}

}  // namespace
}  // namespace spmd::partitioner
