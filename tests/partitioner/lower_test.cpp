// SPMD lowering: the collectives each strategy must pay, each with its reason, and local
// shapes that are the planned shards.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/error.h"
#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "ir/verify.h"
#include "partitioner/bucket.h"
#include "partitioner/lower.h"
#include "ir/ops.h"
#include "partitioner/memory_plan.h"
#include "partitioner/schedule.h"
#include "partitioner/tactics.h"

namespace spmd::partitioner {
namespace {

const char* kGpt = "gpt:layers=2,d_model=32,heads=4,seq=8,vocab=16,batch=4";

struct Lowered {
  ir::Graph global;
  Plan plan;
  Program program;
};

Lowered lowered(const std::string& strategy, int ranks, const char* model = kGpt) {
  Lowered l;
  l.global = ir::training_step(ir::build_model(model), {});
  l.plan = apply_tactics(l.global, builtin_strategy(strategy, l.global, ranks));
  l.program = lower(l.global, l.plan);
  return l;
}

int count_steps(const Program& p, const std::string& kind) {
  int n = 0;
  for (const auto& c : p.collectives) n += c.steps.find(kind) != std::string::npos;
  return n;
}

TEST(Lower, DataParallelAllReducesEachGradientAndTheLossOnly) {
  Lowered l = lowered("dp", 4);
  int params = static_cast<int>(l.global.nodes_with_op("param").size());
  for (const auto& c : l.program.collectives) {
    EXPECT_EQ(c.steps, "all-reduce along data") << c.value << ": " << c.reason;
    EXPECT_FALSE(c.reason.empty());
  }
  // One per param gradient (wte's two uses are summed first) and one for the loss.
  EXPECT_EQ(static_cast<int>(l.program.collectives.size()), params + 1);
}

TEST(Lower, ZeroReduceScattersGradientsAndGathersParamsWhereUsed) {
  Lowered l = lowered("zero", 4);
  EXPECT_GT(count_steps(l.program, "reduce-scatter along data"), 10);
  EXPECT_GT(count_steps(l.program, "all-gather along data"), 10);
  for (const auto& c : l.program.collectives) {
    if (c.steps.find("all-gather") == std::string::npos) continue;
    // Only params are gathered whole, never an activation.
    ir::ValueId v = *l.global.find(c.value.substr(1));
    EXPECT_EQ(l.global.node(v).op, "param") << c.value << ": " << c.reason;
  }
}

TEST(Lower, MegatronAllReducesFourTimesPerLayer) {
  Lowered l = lowered("megatron", 2);
  // As in Megatron-LM: forward, the outputs of attention and of the MLP; backward, the input
  // gradients of attention (q, k and v summed first) and of the MLP. Nothing else moves.
  EXPECT_EQ(count_steps(l.program, "all-reduce along model"), 2 * 4);
  EXPECT_EQ(l.program.collectives.size(), 2u * 4);
  for (const auto& c : l.program.collectives) EXPECT_FALSE(c.reason.empty()) << c.value;
}

// An axis of one device splits nothing and sums one partial, so layouts that differ only in
// such axes hold the same data: ZeRO on one device is the replicated step, op for op, and
// dp+megatron on 2 ranks (data 1 x model 2) is Megatron's step, with no collective over data.
TEST(Lower, AxesOfOneDeviceNeedNoCollective) {
  Lowered zero = lowered("zero", 1), replicated = lowered("dp", 1);
  EXPECT_TRUE(zero.program.collectives.empty());
  EXPECT_TRUE(zero.program.graph.nodes_with_op("redistribute").empty());
  EXPECT_EQ(zero.program.graph.size(), replicated.program.graph.size());
  Lowered both = lowered("dp+megatron", 2), megatron = lowered("megatron", 2);
  ASSERT_EQ(both.program.graph.meta.s("mesh"), "data=1,model=2");
  EXPECT_EQ(both.program.collectives.size(), megatron.program.collectives.size());
  for (const auto& c : both.program.collectives) EXPECT_EQ(c.steps, "all-reduce along model") << c.value;
}

TEST(Lower, LocalShapesAreTheShardsAndTheProgramVerifies) {
  Lowered l = lowered("dp+megatron", 4);
  const ir::Graph& p = l.program.graph;
  EXPECT_NO_THROW(ir::verify(p));
  EXPECT_EQ(p.meta.s("mesh"), "data=2,model=2");
  EXPECT_EQ(p.type(*p.find("tokens")).shape, (ir::Shape{2, 8}));
  EXPECT_EQ(p.type(*p.find("layer0.mlp.w_in")).shape, (ir::Shape{32, 64}));
  EXPECT_EQ(p.node(*p.find("layer0.mlp.w_in")).attrs.ints("global"), (std::vector<int64_t>{32, 128}));
}

TEST(Lower, EveryCollectiveSaysWhy) {
  for (const char* s : {"dp", "megatron", "dp+megatron", "zero"}) {
    Lowered l = lowered(s, 4);
    for (const auto& c : l.program.collectives) {
      EXPECT_NE(c.reason.find(c.value), std::string::npos) << s << ": " << c.reason;
      EXPECT_GT(c.bytes, 0u);
    }
  }
}

TEST(Plan, JsonRoundTripsAndRejectsAnotherModel) {
  Lowered l = lowered("dp+megatron", 4);
  Plan back = plan_from_json(to_json(l.plan, l.global), l.global);
  EXPECT_EQ(back.shardings, l.plan.shardings);
  EXPECT_EQ(back.mesh, l.plan.mesh);
  ir::Graph other = ir::training_step(ir::build_model("gpt:layers=1,d_model=32,heads=4,seq=8,vocab=16,batch=4"), {});
  try {
    plan_from_json(to_json(l.plan, l.global), other);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the plan is for model 'gpt:batch=4,d_model=32,heads=4,layers=2"), std::string::npos)
        << e.what();
  }
}

// The last node of backward: neither a source, a collective nor an optimizer update.
ir::ValueId last_backward_op(const ir::Graph& g) {
  ir::ValueId last = -1;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const ir::OpTraits& t = ir::op_traits(g.node(v).op);
    if (!g.node(v).is_source() && !t.collective && !t.optimizer_update) last = v;
  }
  return last;
}

// Scheduled for overlap, data parallelism all-reduces each gradient as soon as backward has
// it, so most go out before backward ends; collectives keep their relative order, and a
// ZeRO gather of a param stays at its first use.
TEST(Schedule, GradientCollectivesAreIssuedDuringBackward) {
  Lowered l = lowered("dp", 4);
  const ir::Graph& p = l.program.graph;
  EXPECT_NO_THROW(ir::verify(p));
  ir::ValueId last = last_backward_op(p);
  int before = 0;
  for (const auto& c : l.program.collectives) {
    ASSERT_EQ(p.node(c.at).op, "redistribute");
    before += c.at < last;
  }
  EXPECT_GT(before, static_cast<int>(l.program.collectives.size()) / 2) << before << " of " << l.program.collectives.size();
  for (size_t i = 1; i < l.program.collectives.size(); ++i) EXPECT_LT(l.program.collectives[i - 1].at, l.program.collectives[i].at);
  Lowered z = lowered("zero", 4);
  const ir::Graph& zp = z.program.graph;
  // Each gather's first reader; prefetched one ahead, a gather waits for its reader across
  // at most one other gather's first reader (FSDP's prefetch of the next one).
  std::map<ir::ValueId, ir::ValueId> first_reader;
  for (const auto& c : z.program.collectives) {
    if (c.steps.find("all-gather") == std::string::npos) continue;
    EXPECT_EQ(zp.node(zp.node(c.at).inputs[0]).op, "param") << c.value;
    for (ir::ValueId v = c.at + 1; v < zp.size() && !first_reader.count(c.at); ++v) {
      const auto& in = zp.node(v).inputs;
      if (std::find(in.begin(), in.end(), c.at) != in.end()) first_reader[c.at] = v;
    }
  }
  std::set<ir::ValueId> readers;
  for (const auto& [gather, reader] : first_reader) readers.insert(reader);
  int gathers = 0;
  for (const auto& [gather, reader] : first_reader) {
    ++gathers;
    auto from = readers.upper_bound(gather), to = readers.lower_bound(reader);
    EXPECT_LE(std::distance(from, to), 1) << "%" << gather << " is gathered long before its use at %" << reader;
  }
  EXPECT_GT(gathers, 0);
}

// The wait points of the one-pass walk are those of the definition, node by node: the first
// later op (not a collective, source or view) reading the result's bytes or rewriting the
// result's or the operand's, or the collective's in-flight limit if that comes first.
TEST(Schedule, WaitPointsFollowTheirDefinition) {
  for (const char* strategy : {"dp", "zero", "dp+megatron"}) {
    Lowered l = lowered(strategy, 4);
    Plan recomputing = l.plan;
    recomputing.rematerialize = true;
    for (const Program& program : {l.program, lower(l.global, recomputing)}) {
      const ir::Graph& g = program.graph;
      const ProgramMemory memory = plan_program_memory(g);
      auto root = [&](ir::ValueId v) {
        while (memory.alias[v] >= 0) v = memory.alias[v];
        return v;
      };
      std::vector<ir::ValueId> waits = collective_wait_points(g, memory.alias);
      const std::vector<ir::ValueId> limits = in_flight_limits(g);
      for (ir::ValueId c = 0; c < g.size(); ++c) {
        if (!ir::op_traits(g.node(c).op).collective) {
          EXPECT_EQ(waits[c], -1);
          continue;
        }
        ir::ValueId expected = g.size();
        for (ir::ValueId v = c + 1; v < g.size() && expected == g.size(); ++v) {
          const ir::OpTraits& t = ir::op_traits(g.node(v).op);
          if (g.node(v).is_source() || t.collective || t.view) continue;
          bool hit = root(v) == root(c) || root(v) == root(g.node(c).inputs[0]);
          for (ir::ValueId x : g.node(v).inputs) hit = hit || root(x) == root(c);
          if (hit) expected = v;
        }
        if (limits[c] >= 0) expected = std::min(expected, limits[c]);
        EXPECT_EQ(waits[c], expected) << strategy << " %" << c;
      }
    }
  }
}

// The in-flight limit of a collective of a computed operand is where the second such issue
// after its own begins, a bucket issuing its members at once; gathers of params have none.
TEST(Schedule, AGradientReductionIsWaitedForWhenTheSecondAfterItIsIssued) {
  Lowered l = lowered("zero", 4);
  const Program program = bucket_gradients(schedule_for_overlap(l.program), 4096);
  const ir::Graph& g = program.graph;
  const std::vector<ir::ValueId> limits = in_flight_limits(g);
  std::vector<ir::ValueId> issues;  // the first node of each issue
  std::vector<int> issue_of(g.nodes.size(), -1);
  int buckets = 0;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const ir::Node& n = g.node(v);
    if (!ir::op_traits(n.op).collective) {
      EXPECT_EQ(limits[v], -1);
      continue;
    }
    if (g.node(n.inputs[0]).op == "param") {
      EXPECT_EQ(limits[v], -1) << "%" << v << ", a gather of a param";
      continue;
    }
    const int64_t bucket = n.attrs.i("bucket", -1);
    const bool joins = bucket >= 0 && !issues.empty() && g.node(v - 1).attrs.i("bucket", -1) == bucket;
    buckets += bucket >= 0 && !joins;
    if (!joins) issues.push_back(v);
    issue_of[v] = static_cast<int>(issues.size()) - 1;
  }
  ASSERT_GT(buckets, 1);
  ASSERT_GT(issues.size(), 4u);
  for (ir::ValueId c = 0; c < g.size(); ++c) {
    if (issue_of[c] < 0) continue;
    const size_t later = static_cast<size_t>(issue_of[c]) + kReductionsInFlight;
    EXPECT_EQ(limits[c], later < issues.size() ? issues[later] : g.size()) << "%" << c;
  }
}

// Without a limit, a reduce-scatter's operand (a layer's whole gradient) would live until
// the optimizer reads its result at the step's end, so every layer's would be live at
// once; with it, a deeper model's arena (the step's transient buffers: params, their
// shards of optimizer state and of gradients live elsewhere or are smaller) grows by less
// than half its added layers' whole gradients.
TEST(Schedule, ZerosWholeGradientsAreNotAllLiveAtTheStepsEnd) {
  const char* shallow = "gpt:layers=2,d_model=64,heads=4,seq=4,vocab=16,batch=4";
  const char* deep = "gpt:layers=6,d_model=64,heads=4,seq=4,vocab=16,batch=4";
  auto peak = [](const char* model) {
    Lowered l = lowered("zero", 4, model);
    l.plan.rematerialize = true;  // what forward keeps for backward grows little with depth
    return plan_program_memory(schedule_for_overlap(lower(l.global, l.plan)).graph).arena.arena_bytes;
  };
  auto param_bytes = [](const char* model) {
    const ir::Graph g = ir::training_step(ir::build_model(model), {});
    size_t bytes = 0;
    for (ir::ValueId v : g.nodes_with_op("param")) bytes += g.type(v).bytes();
    return bytes;
  };
  const size_t added_gradients = param_bytes(deep) - param_bytes(shallow);  // whole, as each device computes them
  const size_t grown = peak(deep) - peak(shallow);
  EXPECT_LT(grown, added_gradients / 2) << "the arena grew by " << grown << " bytes; the added layers' gradients are "
                                       << added_gradients;
}

// A tactics file asks for recomputation; the plan file keeps the choice; the program then
// holds fewer bytes: with seq 64, the attention scores of every layer dominate what forward
// leaves for backward, and recomputation keeps only the residual stream between layers.
TEST(Lower, RecomputationFromTacticsToPlanFileToAProgramOfSmallerPeak) {
  ir::Graph g = ir::training_step(ir::build_model("gpt:layers=4,d_model=32,heads=4,seq=64,vocab=16,batch=4"), {});
  Tactics t = tactics_from_json(nlohmann::ordered_json::parse(
      R"({"mesh": {"data": 1}, "tactics": [], "rematerialize": true})"));
  Plan plan = apply_tactics(g, t);
  ASSERT_TRUE(plan.rematerialize);
  Plan back = plan_from_json(to_json(plan, g), g);
  EXPECT_TRUE(back.rematerialize);
  Program recomputing = lower(g, back);
  back.rematerialize = false;
  EXPECT_FALSE(plan_from_json(to_json(back, g), g).rematerialize);
  Program keeping = lower(g, back);
  EXPECT_NO_THROW(ir::verify(recomputing.graph));
  size_t kept = plan_program_memory(keeping.graph).peak_bytes(), recomputed = plan_program_memory(recomputing.graph).peak_bytes();
  EXPECT_LT(recomputed, kept * 3 / 4) << recomputed << " bytes recomputing, " << kept << " keeping";
  EXPECT_THROW(tactics_from_json(nlohmann::ordered_json::parse(R"({"mesh": {"data": 1}, "tactics": [], "rematerialize": 1})")),
               Error);
}

}  // namespace
}  // namespace spmd::partitioner
