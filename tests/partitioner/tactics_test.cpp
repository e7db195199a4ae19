// Tactics: the Megatron tactics file reproduces Megatron-LM's sharding of every parameter;
// built-in strategies shard what they promise; a tactic that cannot apply names itself.
#include <gtest/gtest.h>

#include <map>
#include <tuple>

#include "common/error.h"
#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "partitioner/tactics.h"

namespace spmd::partitioner {
namespace {

const char* kGpt = "gpt:layers=2,d_model=32,heads=4,seq=8,vocab=16,batch=4";

ir::Graph step(const char* model = kGpt) { return ir::training_step(ir::build_model(model), {}); }

std::string sharding_of(const ir::Graph& g, const Plan& p, const std::string& name) {
  return sharding_text(p.of(*g.find(name)), p.mesh);
}

TEST(Tactics, MegatronFileShardsEveryParameterAsMegatronLm) {
  ir::Graph g = step();
  Plan plan = apply_tactics(g, read_tactics(SPMD_EXAMPLES_DIR "/tactics/megatron.json"));
  // Column-parallel q, k, v and MLP input; row-parallel attention output and MLP output;
  // everything else (embeddings, norms, row-parallel biases, the head) replicated.
  std::map<std::string, std::string> expected;
  for (int l = 0; l < 2; ++l) {
    std::string p = "layer" + std::to_string(l);
    for (const char* w : {".attn.wq", ".attn.wk", ".attn.wv", ".mlp.w_in"}) expected[p + w] = "[-, model]";
    for (const char* b : {".attn.bq", ".attn.bk", ".attn.bv", ".mlp.b_in"}) expected[p + b] = "[model]";
    for (const char* w : {".attn.wo", ".mlp.w_out"}) expected[p + w] = "[model, -]";
    for (const char* b : {".attn.bo", ".mlp.b_out", ".ln1.scale", ".ln1.bias", ".ln2.scale", ".ln2.bias"}) expected[p + b] = "[-]";
  }
  expected["wte"] = expected["wpe"] = expected["head.w"] = "[-, -]";
  expected["ln_f.scale"] = expected["ln_f.bias"] = "[-]";
  int params = 0;
  for (ir::ValueId v : g.nodes_with_op("param")) {
    const std::string& name = g.node(v).name;
    ASSERT_TRUE(expected.count(name)) << name;
    EXPECT_EQ(sharding_of(g, plan, name), expected[name]) << name;
    ++params;
  }
  EXPECT_EQ(params, static_cast<int>(expected.size()));
  // Propagation split the attention by heads: the scores are [batch, heads, seq, seq].
  bool heads_split = false;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const auto& t = g.type(v);
    if (g.node(v).op == "softmax" && t.rank() == 4) heads_split = plan.of(v).dims[1] == std::vector<int>{0};
  }
  EXPECT_TRUE(heads_split);
}

TEST(Tactics, BuiltinStrategiesEqualTheExampleFiles) {
  ir::Graph g = step();
  const std::tuple<const char*, const char*, int> pairs[] = {
      {"megatron.json", "megatron", 2}, {"dp_megatron.json", "dp+megatron", 4}, {"zero.json", "zero", 4}};
  for (const auto& [file, strategy, ranks] : pairs) {
    Plan from_file = apply_tactics(g, read_tactics(std::string(SPMD_EXAMPLES_DIR "/tactics/") + file));
    Plan builtin = apply_tactics(g, builtin_strategy(strategy, g, ranks));
    EXPECT_EQ(from_file.mesh, builtin.mesh) << file;
    EXPECT_EQ(from_file.shardings, builtin.shardings) << file;
  }
}

TEST(Tactics, DataParallelSplitsEveryBatchDimension) {
  ir::Graph g = step();
  Plan plan = apply_tactics(g, builtin_strategy("dp", g, 4));
  EXPECT_EQ(sharding_of(g, plan, "tokens"), "[data, -]");
  for (ir::ValueId v : g.nodes_with_op("param")) EXPECT_EQ(plan.of(v).dims[0].size(), 0u) << g.node(v).name;
  int split = 0;
  for (ir::ValueId v = 0; v < g.size(); ++v) split += g.type(v).rank() >= 3 && plan.of(v).dims[0] == std::vector<int>{0};
  EXPECT_GT(split, 50);
}

TEST(Tactics, ZeroShardsStateGradientsAndParamsButNotActivations) {
  ir::Graph g = step();
  Plan plan = apply_tactics(g, builtin_strategy("zero", g, 4));
  for (ir::ValueId v : g.nodes_with_op("state")) {
    bool split = false;
    for (const auto& axes : plan.of(v).dims) split = split || !axes.empty();
    EXPECT_TRUE(split) << g.node(v).name;
  }
  EXPECT_EQ(sharding_of(g, plan, "layer0.mlp.w_in"), "[data, -]");
  EXPECT_EQ(sharding_of(g, plan, "layer0.ln1.scale"), "[data]");
}

std::string error_of(const std::string& json) {
  ir::Graph g = step();
  try {
    apply_tactics(g, tactics_from_json(nlohmann::ordered_json::parse(json)));
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Tactics, ATacticThatCannotApplyNamesItself) {
  EXPECT_EQ(error_of(R"({"mesh": {"model": 2}, "tactics": [{"values": "param:wte", "dim": 0, "axis": "data"}]})"),
            "tactic 1 (param:wte dim 0 -> data): mesh {model: 2} has no axis 'data'");
  EXPECT_EQ(error_of(R"({"mesh": {"model": 3}, "tactics": [{"values": "param:wte", "dim": 1, "axis": "model"}]})"),
            "tactic 1 (param:wte dim 1 -> model): axis 'model' of size 3 cannot split dimension 1 of %wte f32[16,32]");
  EXPECT_EQ(error_of(R"({"mesh": {"model": 2}, "tactics": [{"values": "param:nothing*", "dim": 0, "axis": "model"}]})"),
            "tactic 1 (param:nothing* dim 0 -> model): pattern 'param:nothing*' matches no value");
  EXPECT_EQ(error_of(R"({"mesh": {"model": 2}, "tactics": [{"values": "param:wte", "dim": 5, "axis": "model"}]})"),
            "tactic 1 (param:wte dim 5 -> model): %wte has no dimension 5");
  EXPECT_EQ(error_of(R"({"mesh": {"model": 2}, "tactics": [{"values": "param:wte", "axis": "model"}]})"),
            "tactic 1: missing \"dim\"");
  EXPECT_EQ(error_of(R"({"mesh": {"model": 2}, "tactics": [{"values": "class:nope", "axis": "model"}]})"),
            "tactic 1 (class:nope -> model): no dimension class named 'nope' (see spmd analyze)");
}

TEST(Tactics, UnknownStrategyAndMissingFileAreErrors) {
  ir::Graph g = step();
  EXPECT_THROW(builtin_strategy("pipeline", g, 2), Error);
  EXPECT_THROW(read_tactics("/nonexistent/tactics.json"), Error);
}

}  // namespace
}  // namespace spmd::partitioner

namespace spmd::partitioner {
namespace {

TEST(Tactics, AClassTacticShardsThatClassInEveryLayer) {
  ir::Graph g = ir::training_step(ir::build_model("gpt:layers=3,d_model=32,heads=4,seq=8,vocab=16,batch=4"), {});
  Plan plan = apply_tactics(g, tactics_from_json(nlohmann::ordered_json::parse(
                                   R"({"mesh": {"model": 2}, "tactics": [{"values": "class:d_ff", "axis": "model"}]})")));
  for (const char* w : {"layer0.mlp.w_in", "layer1.mlp.w_in", "layer2.mlp.w_in"}) {
    EXPECT_EQ(sharding_text(plan.of(*g.find(w)), plan.mesh), "[-, model]") << w;
  }
}

TEST(Tactics, ANumberedClassTacticShardsThatClassOnly) {
  ir::Graph g = ir::training_step(ir::build_model("mlp:layers=3,hidden=16"), {});
  Plan plan = apply_tactics(g, tactics_from_json(nlohmann::ordered_json::parse(
                                   R"({"mesh": {"model": 2}, "tactics": [{"values": "class:hidden#1", "axis": "model"}]})")));
  EXPECT_EQ(sharding_text(plan.of(*g.find("layer0.w")), plan.mesh), "[-, model]");
  EXPECT_EQ(sharding_text(plan.of(*g.find("layer1.w")), plan.mesh), "[model, -]");
  EXPECT_EQ(sharding_text(plan.of(*g.find("layer2.w")), plan.mesh), "[-, -]");
}

TEST(Tactics, MegatronNeedsWholeHeads) {
  ir::Graph g = ir::training_step(ir::build_model("gpt:layers=1,d_model=48,heads=4,seq=8,vocab=16,batch=4"), {});
  try {
    builtin_strategy("megatron", g, 3);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "strategy megatron: heads=4 do not split over 3 devices of axis 'model'");
  }
}

}  // namespace
}  // namespace spmd::partitioner
