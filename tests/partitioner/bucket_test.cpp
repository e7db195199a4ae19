// Gradient buckets (partitioner/bucket.h): which collectives a bucket takes, where they go,
// and the cost model's choice of their size.
#include <gtest/gtest.h>

#include <set>

#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "ir/ops.h"
#include "partitioner/bucket.h"
#include "partitioner/memory_plan.h"
#include "partitioner/search.h"
#include "partitioner/simulator.h"
#include "tests/partitioner/small_gpt.h"

namespace spmd::partitioner {
namespace {

Program lowered_dp(int devices) {
  const ir::Graph g = small_gpt_step();
  return lower(g, strategy_plan(g, "dp", devices));
}

int collectives(const Program& p) {
  int n = 0;
  for (ir::ValueId v = 0; v < p.graph.size(); ++v) n += ir::op_traits(p.graph.node(v).op).collective ? 1 : 0;
  return n;
}

TEST(Buckets, FuseConsecutiveAllReducesWithinTheSizeAndKeepEveryOperandBeforeItsUsers) {
  const Program plain = lowered_dp(4);
  const double size = 16 * 1024;
  const Program bucketed = bucket_gradients(plain, size);
  ASSERT_EQ(bucketed.graph.size(), plain.graph.size());
  EXPECT_EQ(collectives(bucketed), collectives(plain));
  EXPECT_EQ(bucketed.collectives.size(), plain.collectives.size());
  std::map<int64_t, std::vector<ir::ValueId>> members;
  for (ir::ValueId v = 0; v < bucketed.graph.size(); ++v) {
    const ir::Node& n = bucketed.graph.node(v);
    for (ir::ValueId x : n.inputs) EXPECT_LT(x, v) << ir::value_label(bucketed.graph, v);
    if (n.attrs.has("bucket")) members[n.attrs.i("bucket")].push_back(v);
  }
  ASSERT_FALSE(members.empty());
  for (const auto& [bucket, nodes] : members) {
    EXPECT_GE(nodes.size(), 2u) << "bucket " << bucket;
    double bytes = 0;
    for (size_t i = 0; i < nodes.size(); ++i) {
      EXPECT_TRUE(bucketable(bucketed.graph, nodes[i]));
      if (i > 0) {
        EXPECT_EQ(nodes[i], nodes[i - 1] + 1) << "bucket " << bucket << ": members side by side";
      }
      bytes += static_cast<double>(bucketed.graph.type(bucketed.graph.node(nodes[i]).inputs[0]).bytes());
    }
    EXPECT_LE(bytes, size) << "bucket " << bucket;
  }
  // Every record still points at its redistribute node.
  for (const CollectiveRecord& r : bucketed.collectives) {
    EXPECT_TRUE(ir::op_traits(bucketed.graph.node(r.at).op).collective) << r.value;
  }
}

// A gradient's all-reduce is its last reader and writes over it; an all-reduce bucket whose
// members all do lays their gradients side by side in member order (each a whole number of
// cache lines), so that it reduces them where they are, with nothing packed (DDP's
// gradient_as_bucket_view). The loss, read after its all-reduce, keeps its own buffer.
// bucket_views names the same buckets, for the simulator.
TEST(Buckets, AnAllReduceBucketsGradientsLieSideBySideAndAreReducedWhereTheyAre) {
  const Program bucketed = bucket_gradients(lowered_dp(4), 16 * 1024);
  const ProgramMemory memory = plan_program_memory(bucketed.graph);
  const ir::Graph& g = bucketed.graph;
  std::vector<ir::ValueId> last_read(static_cast<size_t>(g.size()), -1);
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    for (ir::ValueId x : g.node(v).inputs) last_read[x] = v;
  }
  int in_place = 0;
  std::vector<ir::ValueId> views;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const int64_t bucket = g.node(v).attrs.i("bucket", -1);
    if (bucket < 0 || g.node(v - 1).attrs.i("bucket", -1) == bucket) continue;
    const BucketCollective b = bucket_at(g, v);
    bool all_in_place = true, whole_lines = true;
    for (ir::ValueId m : b.members) {
      const ir::ValueId x = g.node(m).inputs[0];
      EXPECT_EQ(memory.alias[m] == x, last_read[x] == m && !memory.owned[m]) << ir::value_label(g, m) << " in place where it reads last";
      in_place += memory.alias[m] == x;
      all_in_place = all_in_place && memory.alias[m] == x;
      whole_lines = whole_lines && g.type(x).bytes() % MemoryPlan::kAlignment == 0;
    }
    if (!all_in_place || !whole_lines || b.blocks != 1) continue;
    views.push_back(v);
    for (size_t i = 1; i < b.members.size(); ++i) {
      const ir::ValueId before = g.node(b.members[i - 1]).inputs[0], x = g.node(b.members[i]).inputs[0];
      EXPECT_EQ(memory.arena.offset[x], memory.arena.offset[before] + static_cast<ptrdiff_t>(g.type(before).bytes()))
          << "bucket " << bucket << ": " << ir::value_label(g, x) << " right after " << ir::value_label(g, before);
    }
  }
  EXPECT_GT(in_place, 0);
  EXPECT_FALSE(views.empty());
  std::vector<ir::ValueId> operand_views;
  for (auto [first, view] : bucket_views(g)) {
    if (view == BucketView::operands) operand_views.push_back(first);
  }
  EXPECT_EQ(operand_views, views) << "the buckets the simulator costs no packing for";
}

TEST(Buckets, NoneLeavesTheProgramAsItIs) {
  const Program plain = lowered_dp(4);
  EXPECT_EQ(bucket_gradients(plain, 0).graph, plain.graph);
}

// On a network where every message costs a millisecond, one collective per bucket instead
// of one per gradient wins, and the cost model says so; where messages cost nothing extra,
// it keeps none.
TEST(Buckets, TheCostModelChoosesABucketWhereEachMessageIsCostly) {
  const Program plain = lowered_dp(4);
  const launcher::Topology flat = flat_topology(4);
  std::vector<launcher::LinkModel> slow(flat.levels().size(), {1e-3, 1e9});
  const launcher::Topology costly = flat.with_links(slow);
  const Mesh mesh{{"data"}, {4}};
  CollectiveCosts costs(mesh, costly);
  const DeviceModel device = device_model(costly);
  const double size = bucket_size(plain, device, costs);
  EXPECT_GT(size, 0);
  EXPECT_LT(simulate(bucket_gradients(plain, size), device, costs).step_time_s,
            simulate(plain, device, costs).step_time_s);
  std::vector<launcher::LinkModel> free_messages(flat.levels().size(), {0, 1e9});
  const launcher::Topology free_topology = flat.with_links(free_messages);  // outlives the costs
  CollectiveCosts cheap(mesh, free_topology);
  EXPECT_EQ(bucket_size(plain, device, cheap), 0);
}

// A ZeRO reduce-scatter bucket's results (each device's block of every member) lie side by
// side in member order where each fills whole cache lines (those of small_gpt's do not): the
// flat result the collective writes, with nothing unpacked; bucket_views says so, for the
// simulator.
TEST(Buckets, AReduceScatterBucketsResultsLieSideBySide) {
  // Wide enough that each device's block of every gradient fills whole cache lines.
  const ir::Graph g = ir::training_step(ir::build_model("gpt:layers=1,d_model=64,heads=2,seq=8,vocab=32,batch=4"), {});
  const Program bucketed = bucket_gradients(lower(g, strategy_plan(g, "zero", 2)), 1 << 20);
  const ProgramMemory memory = plan_program_memory(bucketed.graph);
  const ir::Graph& b = bucketed.graph;
  std::vector<ir::ValueId> laid_out;
  for (ir::ValueId v = 1; v < b.size(); ++v) {
    const int64_t bucket = b.node(v).attrs.i("bucket", -1);
    if (bucket < 0 || b.node(v - 1).attrs.i("bucket", -1) == bucket) continue;
    const BucketCollective c = bucket_at(b, v);
    bool whole_lines = c.blocks > 1 && !c.gathers;
    for (ir::ValueId m : c.members) whole_lines = whole_lines && b.type(m).bytes() % MemoryPlan::kAlignment == 0;
    if (!whole_lines) continue;
    laid_out.push_back(v);
    for (size_t i = 1; i < c.members.size(); ++i) {
      const ir::ValueId before = c.members[i - 1], m = c.members[i];
      EXPECT_EQ(memory.arena.offset[m], memory.arena.offset[before] + static_cast<ptrdiff_t>(b.type(before).bytes()))
          << "bucket " << bucket << ": " << ir::value_label(b, m) << " right after " << ir::value_label(b, before);
    }
  }
  EXPECT_FALSE(laid_out.empty());
  std::vector<ir::ValueId> result_views;
  for (auto [first, view] : bucket_views(b)) {
    if (view == BucketView::results) result_views.push_back(first);
  }
  EXPECT_EQ(result_views, laid_out);
}

// ZeRO's gradients are reduce-scattered along dimension 0: they bucket apart from the
// all-reduces, as one flat reduce-scatter over the data axis whose blocks interleave the
// members' blocks of rows, so each device's block is its block of every member.
TEST(Buckets, ZeroReduceScattersBucketAsOneFlatReduceScatter) {
  const ir::Graph g = small_gpt_step();
  const Program bucketed = bucket_gradients(lower(g, strategy_plan(g, "zero", 4)), 1 << 20);
  int scatter_buckets = 0;
  for (ir::ValueId v = 0; v < bucketed.graph.size(); ++v) {
    const ir::Node& n = bucketed.graph.node(v);
    if (!n.attrs.has("bucket") || (v > 0 && bucketed.graph.node(v - 1).attrs.i("bucket", -1) == n.attrs.i("bucket"))) {
      continue;  // not a bucket's first member
    }
    const BucketCollective b = bucket_at(bucketed.graph, v);
    if (b.gathers) continue;  // the params' gathers: the test below
    int64_t floats = 0;
    for (ir::ValueId m : b.members) {
      const int64_t in = bucketed.graph.type(bucketed.graph.node(m).inputs[0]).numel();
      EXPECT_EQ(in, bucketed.graph.type(m).numel() * b.blocks) << "one kind per bucket: " << ir::value_label(bucketed.graph, m);
      floats += in;
    }
    EXPECT_EQ(b.global, std::vector<int64_t>{floats});
    EXPECT_EQ(b.from, (collectives::Layout{{{}}, {0}}));
    if (b.blocks > 1) {
      ++scatter_buckets;
      EXPECT_EQ(b.blocks, 4);
      EXPECT_EQ(b.to, (collectives::Layout{{{0}}, {}}));
    }
  }
  EXPECT_GT(scatter_buckets, 0);
}

// ZeRO's gathers of params bucket too, apart from the reductions: one flat all-gather over
// the data axis, each device's block its shard of every member side by side, issued where
// the first member was (before any member's reader), in place of the members one by one.
TEST(Buckets, ZeroParamGathersBucketAsOneFlatAllGatherAtTheFirstMembersPlace) {
  const ir::Graph g = small_gpt_step();
  const Program plain = lower(g, strategy_plan(g, "zero", 4));
  const Program bucketed = bucket_gradients(plain, 1 << 20);
  std::map<ir::ValueId, ir::ValueId> first_reader;  // in `bucketed`
  for (ir::ValueId v = 0; v < bucketed.graph.size(); ++v) {
    for (ir::ValueId x : bucketed.graph.node(v).inputs) first_reader.try_emplace(x, v);
  }
  int gather_buckets = 0;
  for (ir::ValueId v = 0; v < bucketed.graph.size(); ++v) {
    const ir::Node& n = bucketed.graph.node(v);
    if (!n.attrs.has("bucket") || (v > 0 && bucketed.graph.node(v - 1).attrs.i("bucket", -1) == n.attrs.i("bucket"))) {
      continue;
    }
    const BucketCollective b = bucket_at(bucketed.graph, v);
    if (!b.gathers) continue;
    ++gather_buckets;
    EXPECT_EQ(b.blocks, 4);
    EXPECT_EQ(b.from, (collectives::Layout{{{0}}, {}}));
    EXPECT_EQ(b.to, (collectives::Layout{{{}}, {}}));
    int64_t floats = 0;
    for (ir::ValueId m : b.members) {
      const ir::Node& member = bucketed.graph.node(m);
      EXPECT_TRUE(bucketed.graph.node(member.inputs[0]).is_source()) << ir::value_label(bucketed.graph, m);
      EXPECT_EQ(bucketed.graph.type(m).numel(), bucketed.graph.type(member.inputs[0]).numel() * 4);
      EXPECT_LT(b.members.back(), first_reader.at(m)) << "the whole bucket before " << ir::value_label(bucketed.graph, m) << "'s reader";
      floats += bucketed.graph.type(m).numel();
    }
    EXPECT_EQ(b.global, std::vector<int64_t>{floats});
  }
  EXPECT_GT(gather_buckets, 0);
}

}  // namespace
}  // namespace spmd::partitioner
