// How far back a step last touched each buffer an op reads or writes, in distinct bytes:
// counted across steps, by whole buffers for those of their own and by blocks of the arena
// for the rest, and what the cost model makes of it.
#include <gtest/gtest.h>

#include "ir/autodiff.h"
#include "ir/builder.h"
#include "ir/models/zoo.h"
#include "ir/ops.h"
#include "partitioner/bucket.h"
#include "partitioner/tactics.h"
#include "partitioner/cost_model.h"
#include "partitioner/memory_plan.h"
#include "partitioner/reuse_distance.h"

namespace spmd::partitioner {
namespace {

constexpr double kKiB = 1024;

// p and q own 4 and 16 KiB; a takes 4 KiB of the arena; b and c are outputs of their own.
// Each step touches: [read p, write a] [read q, write b] [read p, read a, write c].
struct ThreeOps {
  ir::Graph g;
  ir::ValueId p, q, a, b, c;
  ThreeOps() {
    ir::Builder bld(g);
    p = bld.param("p", {1024}), q = bld.param("q", {4096});
    a = bld.relu(p), b = bld.relu(q), c = bld.add(p, a);
    g.outputs = {{"b", b}, {"c", c}};
  }
};

TEST(ReuseDistance, IsTheDistinctBytesTouchedSinceCountedAcrossSteps) {
  const ThreeOps ops;
  const ir::Graph& g = ops.g;
  const ir::ValueId a = ops.a, b = ops.b, c = ops.c;
  const ProgramMemory memory = plan_program_memory(g);
  ASSERT_FALSE(memory.owned[a]);
  const ReuseDistances reuse(g, memory);
  EXPECT_EQ(reuse.operand(a, 0), 8 * kKiB);   // a, c: the previous step's last touches after p
  EXPECT_EQ(reuse.result(a), 8 * kKiB);       // c, then p this step
  EXPECT_EQ(reuse.operand(b, 0), 28 * kKiB);  // b, p, a, c: everything but q itself
  EXPECT_EQ(reuse.result(b), 28 * kKiB);
  EXPECT_EQ(reuse.operand(c, 0), 36 * kKiB);  // a, q, b: p was read at a
  EXPECT_EQ(reuse.operand(c, 1), 36 * kKiB);  // q, b, and p, which c read first
  EXPECT_EQ(reuse.result(c), 40 * kKiB);
}

// A result laid over arena space a dead value held finds that space as recently touched
// as the dead value was, not as its own buffer last was a step ago.
// p -> a -> b -> c -> d, relus of 4 KiB: c lies where a did (a is dead once b has read it).
ir::Graph chain_of_relus(ir::ValueId& a, ir::ValueId& b, ir::ValueId& c, ir::ValueId& d) {
  ir::Graph g;
  ir::Builder bld(g);
  const ir::ValueId p = bld.param("p", {1024});
  a = bld.relu(p), b = bld.relu(a), c = bld.relu(b), d = bld.relu(c);
  g.outputs = {{"d", d}};
  return g;
}

TEST(ReuseDistance, AResultOverADeadValuesSpaceFindsItWhereThatWasLastTouched) {
  ir::ValueId a, b, c, d;
  const ir::Graph g = chain_of_relus(a, b, c, d);
  const ProgramMemory memory = plan_program_memory(g);
  ASSERT_EQ(memory.arena.offset[c], memory.arena.offset[a]);
  const ReuseDistances reuse(g, memory);
  EXPECT_EQ(reuse.result(c), 4 * kKiB);  // b's result only, since b read a there
  EXPECT_EQ(reuse.result(b), 12 * kKiB);  // d, then p and a this step
}

// p's update in place, u = ema(p, b), rewrites p after node a (standing for a collective
// between devices) handed p to peers where it lies.
ir::Graph peers_read_then_update(ir::ValueId& a, ir::ValueId& b, ir::ValueId& u) {
  ir::Graph g;
  ir::Builder bld(g);
  const ir::ValueId p = bld.param("p", {1024});
  a = bld.relu(p);
  b = bld.relu(a);
  ir::Attrs attrs;
  attrs.set("decay", 0.9);
  attrs.set("gain", 0.1);
  u = bld.op("ema", {p, b}, attrs);
  g.updates.emplace_back(p, u);
  g.outputs = {{"b", b}};
  return g;
}

TEST(ReuseDistance, AnUpdateInPlaceRewritesTheBytesPeersReadSinceItsLastWrite) {
  ir::ValueId a, b, u;
  const ir::Graph g = peers_read_then_update(a, b, u);
  const ProgramMemory memory = plan_program_memory(g);
  ASSERT_EQ(memory.buffer_of(u), memory.buffer_of(0));  // u is p's buffer
  std::vector<bool> peers(g.nodes.size(), false);
  peers[a] = true;
  const ReuseDistances reuse(g, memory, peers);
  EXPECT_EQ(reuse.rewritten_after_peers(u), 4 * kKiB);
  EXPECT_EQ(reuse.rewritten_after_peers(b), 0);  // a's result: only this rank read it
  EXPECT_EQ(ReuseDistances(g, memory).rewritten_after_peers(u), 0);
  peers[a] = false;
  peers[b] = true;  // peers read a, which no one writes over
  EXPECT_EQ(ReuseDistances(g, memory, peers).rewritten_after_peers(u), 0);
}

// A result laid over arena space whose last owner peers read pays for those bytes too.
TEST(ReuseDistance, AResultOverSpacePeersReadRewritesIt) {
  ir::ValueId a, b, c, d;
  const ir::Graph g = chain_of_relus(a, b, c, d);
  const ProgramMemory memory = plan_program_memory(g);
  ASSERT_EQ(memory.arena.offset[c], memory.arena.offset[a]);
  std::vector<bool> peers(g.nodes.size(), false);
  peers[b] = true;  // peers read a
  const ReuseDistances reuse(g, memory, peers);
  EXPECT_EQ(reuse.rewritten_after_peers(c), 4 * kKiB);
  EXPECT_EQ(reuse.rewritten_after_peers(d), 0);
}

// Rewriting what peers read costs its bytes at the device's peer_rewrite_Bps, on top.
TEST(CostModel, RewritingBytesPeersReadCostsThemAtTheMeasuredRate) {
  ir::ValueId a, b, u;
  const ir::Graph g = peers_read_then_update(a, b, u);
  const ProgramMemory memory = plan_program_memory(g);
  std::vector<bool> peers(g.nodes.size(), false);
  peers[a] = true;
  const ReuseDistances reuse(g, memory, peers);
  DeviceModel d;
  d.peak_flops = 1e12;
  d.op_latency_s = 1e-6;
  d.bytes_by_size = {{1 << 20, 100e9}, {1 << 30, 10e9}};
  d.memory_Bps = 10e9;
  const double alone = op_seconds(g, u, d, reuse);
  d.peer_rewrite_Bps = 2e9;
  EXPECT_DOUBLE_EQ(op_seconds(g, u, d, reuse), alone + 4 * kKiB / 2e9);
  EXPECT_DOUBLE_EQ(op_seconds(g, b, d, reuse), op_seconds(g, b, d, ReuseDistances(g, memory)));
}

// A bucket of ZeRO's gathers sits before the params it reads (bucket.h): their blocks count
// too, and every distance is at most what a step touches in all (counted before their
// params were, the touches outgrew their table, and AddressSanitizer caught the reads past it).
TEST(ReuseDistance, AGatherBucketBeforeTheParamsItReadsIsCounted) {
  const ir::Graph step = ir::training_step(ir::build_model("gpt:layers=1,d_model=16,heads=2,seq=4,vocab=8,batch=2"), {});
  const Plan plan = apply_tactics(step, builtin_strategy("zero", step, 2));
  const Program program = bucket_gradients(lower(step, plan), 64 << 20);
  const ir::Graph& g = program.graph;
  bool before_its_params = false;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    for (ir::ValueId x : g.node(v).inputs) before_its_params = before_its_params || x > v;
  }
  ASSERT_TRUE(before_its_params);
  const ProgramMemory memory = plan_program_memory(g);
  const ReuseDistances reuse(g, memory);
  double touched = 0;  // an upper bound: every buffer's bytes, every operand's
  for (ir::ValueId v = 0; v < g.size(); ++v) touched += static_cast<double>(g.type(v).bytes());
  touched += static_cast<double>(memory.peak_bytes());
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    if (!g.node(v).inputs.empty() && !ir::op_traits(g.node(v).op).view) {
      EXPECT_GE(reuse.result(v), 0) << "%" << v;
      EXPECT_LE(reuse.result(v), touched) << "%" << v;
    }
  }
}

// On a device whose memory rate falls with the data in play (100 GB/s up to 1 MiB, 10 GB/s
// at 1 GiB and beyond), an op whose operands and result were touched just before costs
// what op_seconds says; an add after 512 MiB of other traffic pays each of its buffers' bytes
// at the rate of the data touched since that buffer's last touch.
TEST(CostModel, ABufferTouchedLongAgoComesAtTheRateOfTheDataTouchedSince) {
  ir::Graph g;
  ir::Builder bld(g);
  const ir::ValueId p = bld.param("p", {1024}), q = bld.param("q", {1 << 26});
  const ir::ValueId a = bld.relu(p), r = bld.relu(q), s = bld.add(p, a);
  g.outputs = {{"r", r}, {"s", s}};
  DeviceModel d;
  d.peak_flops = 1e15;
  d.op_latency_s = 1e-6;
  d.bytes_by_size = {{1 << 20, 100e9}, {1 << 30, 10e9}};
  d.memory_Bps = 10e9;
  const ReuseDistances reuse(g, plan_program_memory(g));
  EXPECT_DOUBLE_EQ(op_seconds(g, a, d, reuse), op_seconds(g, a, d));
  const double tensor = 4 * kKiB;
  double expected = 1e-6;
  for (double distance : {reuse.result(s), reuse.operand(s, 0), reuse.operand(s, 1)}) {
    ASSERT_GT(distance, 512 * kKiB * kKiB);  // q and r came between
    EXPECT_LT(rate_at(d.bytes_by_size, tensor + distance, 0), 25e9);
    expected += tensor / rate_at(d.bytes_by_size, tensor + distance, 0);
  }
  EXPECT_DOUBLE_EQ(op_seconds(g, s, d, reuse), expected);
  EXPECT_GT(op_seconds(g, s, d, reuse) - 1e-6, 4 * (op_seconds(g, s, d) - 1e-6));
  // Two ranks taking turns on the core write over its cache twice as much between.
  d.ranks_per_cache = 2;
  expected = 1e-6;
  for (double distance : {reuse.result(s), reuse.operand(s, 0), reuse.operand(s, 1)}) {
    expected += tensor / rate_at(d.bytes_by_size, tensor + 2 * distance, 0);
  }
  EXPECT_DOUBLE_EQ(op_seconds(g, s, d, reuse), expected);
}

// A device whose memory never limits, with relu measured at 1e6 FLOP/s beyond the caches and
// 4e6 in a core's (the cache's bytes, and the reach beyond, left to each test).
DeviceModel relu_measured_apart() {
  DeviceModel d;
  d.peak_flops = 1e15, d.memory_Bps = 1e15;
  d.flops_by_op.assign(ir::all_ops().size(), 0.0);
  d.flops_by_op_in_cache.assign(ir::all_ops().size(), 0.0);
  d.flops_by_op[ir::op_index("relu")] = 1e6;
  d.flops_by_op_in_cache[ir::op_index("relu")] = 4e6;
  return d;
}

// An op measured apart on operands in a core's cache (an optimizer update of a model whose
// step fits it) runs at that rate where its own bytes, and each buffer with what the step
// touched since its last touch (that of every rank sharing the cache), fit the core's cache;
// at its rate beyond the caches where any does not, or where the cache is not known.
TEST(CostModel, AnOpWhoseDataStayedInTheCoresCacheRunsAtItsInCacheRate) {
  const ThreeOps ops;
  const ir::Graph& g = ops.g;
  const ir::ValueId a = ops.a, b = ops.b;
  const ReuseDistances reuse(g, plan_program_memory(g));
  ASSERT_EQ(reuse.operand(a, 0), 8 * kKiB);  // p, 4 KiB, and a's 4 KiB: 12 KiB in play
  ASSERT_EQ(reuse.operand(b, 0), 28 * kKiB);  // q, 16 KiB: 44 KiB
  DeviceModel d = relu_measured_apart();
  EXPECT_DOUBLE_EQ(op_seconds(g, a, d, reuse), 1024 / 1e6) << "no cache known";
  d.private_cache_bytes = 16 * 1024;
  EXPECT_DOUBLE_EQ(op_seconds(g, a, d, reuse), 1024 / 4e6);
  EXPECT_DOUBLE_EQ(op_seconds(g, b, d, reuse), 4096 / 1e6);
  d.private_cache_bytes = 64 * 1024;
  EXPECT_DOUBLE_EQ(op_seconds(g, b, d, reuse), 4096 / 4e6);
  EXPECT_DOUBLE_EQ(op_seconds(g, b, d), 4096 / 1e6) << "without the step's distances: beyond the caches";
  d.private_cache_bytes = 40 * 1024;  // b's own 32 KiB fit, q with what came since does not
  EXPECT_DOUBLE_EQ(op_seconds(g, b, d, reuse), 4096 / 1e6);
  // Ranks taking turns on one core each write over its cache in between: a's p, 4 KiB with
  // 8 KiB since, reaches 20 KiB when two share the cache.
  d.private_cache_bytes = 16 * 1024;
  d.ranks_per_cache = 2;
  EXPECT_DOUBLE_EQ(op_seconds(g, a, d, reuse), 1024 / 1e6);
}

// Where the reach the rate beyond the caches was measured at is known, an op whose data the
// step touched between the core's cache and it runs between its two rates, linear in the
// log of that reach (from the caches between); an op measured no faster in the cache keeps
// its rate beyond.
TEST(CostModel, AnOpTouchedBetweenTheCoresCacheAndBeyondRunsBetweenItsRates) {
  const ThreeOps ops;
  const ir::Graph& g = ops.g;
  const ir::ValueId b = ops.b;
  const ReuseDistances reuse(g, plan_program_memory(g));
  ASSERT_EQ(16 * kKiB + reuse.operand(b, 0), 44 * kKiB);  // q's reach: b's farthest
  DeviceModel d = relu_measured_apart();
  d.private_cache_bytes = 11 * 1024;  // a quarter of the way to 44 KiB, in the log, of ...
  d.beyond_cache_reach_bytes = 2816 * 1024;  // ... this (x 4 = 44 KiB, x 256 = 2.75 MiB)
  EXPECT_NEAR(op_seconds(g, b, d, reuse), 4096 / (4e6 - 0.25 * 3e6), 1e-12);
  d.beyond_cache_reach_bytes = 40 * 1024;  // reached already
  EXPECT_DOUBLE_EQ(op_seconds(g, b, d, reuse), 4096 / 1e6);
  d.beyond_cache_reach_bytes = 2816 * 1024;
  d.flops_by_op_in_cache[ir::op_index("relu")] = 0.5e6;
  EXPECT_DOUBLE_EQ(op_seconds(g, b, d, reuse), 4096 / 1e6) << "no faster in the cache: its rate beyond";
}

}  // namespace
}  // namespace spmd::partitioner
