// The cost model, the simulator and the search: flops read from the registry's sharding
// rules, the device table, a step's time bounded by its streams, MCTS reaching the
// exhaustive optimum deterministically, and the big GPT on four DGX-2 nodes.
#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "common/error.h"
#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "ir/ops.h"
#include "ir/sharding_rule.h"
#include "partitioner/bucket.h"
#include "partitioner/cost_model.h"
#include "partitioner/mcts.h"
#include "partitioner/placement.h"
#include "partitioner/schedule.h"
#include "partitioner/search.h"
#include "partitioner/tactics.h"
#include "partitioner/tuning.h"

namespace spmd::partitioner {
namespace {

const char* kGpt = "gpt:layers=2,d_model=32,heads=4,seq=8,vocab=16,batch=4";
constexpr double kGiB = 1024.0 * 1024 * 1024;

ir::Graph step_of(const char* model) { return ir::training_step(ir::build_model(model), {}); }

launcher::Topology dgx2(int nodes) {
  return launcher::load_topology({SPMD_TOPOLOGIES_DIR "/nvidiaDGX2.xml", nodes, std::nullopt});
}

TEST(CostModel, MatmulFlopsAreTwoPerPointOfItsIterationSpace) {
  ir::Graph g = step_of(kGpt);
  int seen = 0;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    if (g.node(v).op != "matmul" || g.type(g.node(v).inputs[0]).rank() != 2) continue;
    const ir::Shape& a = g.type(g.node(v).inputs[0]).shape;
    const ir::Shape& b = g.type(g.node(v).inputs[1]).shape;
    EXPECT_EQ(op_flops(g, v), 2.0 * static_cast<double>(a[0] * a[1] * b[1]));
    ++seen;
  }
  EXPECT_GT(seen, 0);
  ir::ValueId param = g.nodes_with_op("param").front();
  EXPECT_EQ(op_flops(g, param), 0);
}

// op_flops remembers problems by op and shapes: what it answers, for every op of two models
// asked in turn and again in reverse, is what the op's sharding rule counts.
TEST(CostModel, RememberedFlopsAreTheRulesOwn) {
  const std::vector<ir::Graph> graphs = {step_of(kGpt), step_of("gpt:layers=1,d_model=16,heads=2,seq=4,vocab=8,batch=2"),
                                         step_of("mlp:layers=2,hidden=16,batch=8,features=4,classes=3")};
  auto expected = [](const ir::Graph& g, ir::ValueId v) {
    const ir::Node& n = g.node(v);
    const ir::OpTraits& t = ir::op_traits(n.op);
    if (n.is_source() || t.view || t.collective) return 0.0;
    const ir::ShardingRule rule = ir::sharding_rule(g, v);
    double points = 1;
    bool contracts = false;
    for (size_t f = 0; f < rule.factor_size.size(); ++f) {
      int places = 0;  // a lookup's table rows: replicated, in one place only, not iterated
      for (const auto& dims : rule.operands) places += std::count(dims.begin(), dims.end(), std::vector<int>{static_cast<int>(f)});
      places += std::count(rule.result.begin(), rule.result.end(), std::vector<int>{static_cast<int>(f)});
      if (t.lookup && rule.factor_kind[f] == ir::FactorKind::replicated && places == 1) continue;
      points *= static_cast<double>(rule.factor_size[f]);
      contracts = contracts || rule.factor_kind[f] == ir::FactorKind::reduction;
    }
    return contracts && n.inputs.size() > 1 && !t.lookup ? 2 * points : points;
  };
  int checked = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (const ir::Graph& g : graphs) {
      for (ir::ValueId i = 0; i < g.size(); ++i) {
        const ir::ValueId v = pass == 0 ? i : g.size() - 1 - i;
        EXPECT_EQ(op_flops(g, v), expected(g, v)) << ir::value_label(g, v);
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 200);
}

TEST(DeviceModel, DgxTwoGpusAreV100sAndOverridesWin) {
  DeviceModel d = device_model(dgx2(1));
  EXPECT_EQ(d.name, "V100-SXM3-32GB");
  EXPECT_EQ(d.memory_bytes, static_cast<std::int64_t>(32 * kGiB));
  EXPECT_DOUBLE_EQ(d.peak_flops, 15.7e12);
  ASSERT_NE(find_gpu_model("Tesla V100-SXM3-32GB-H"), nullptr);
  DeviceOverrides overrides;
  overrides.peak_flops = 1e12;
  overrides.memory_bytes = 1 << 30;
  DeviceModel o = device_model(dgx2(1), overrides);
  EXPECT_EQ(o.peak_flops, 1e12);
  EXPECT_EQ(o.memory_bytes, 1 << 30);
}

// A GPU's peers copy its memory by DMA, no other process's core caching it: a measured cost
// of rewriting what peers read holds for CPU devices only.
TEST(DeviceModel, RewritingWhatPeersReadCostsOnCpusOnly) {
  DeviceOverrides overrides;
  overrides.peer_rewrite_Bps = 5e9;
  EXPECT_EQ(device_model(dgx2(1), overrides).peer_rewrite_Bps, 0);
  EXPECT_EQ(device_model(flat_topology(2), overrides).peer_rewrite_Bps, 5e9);
  EXPECT_EQ(device_model(flat_topology(2)).peer_rewrite_Bps, 0);
}

TEST(DeviceModel, RanksOversubscribedOnTheSameCoresShareTheirSpeed) {
  launcher::Device two_cores;
  two_cores.kind = launcher::DeviceKind::core;
  two_cores.cpuset = "0-1";
  const DeviceModel alone = device_model(launcher::Topology({two_cores}, {"n"}, {}, {}));
  const DeviceModel shared = device_model(launcher::Topology({two_cores, two_cores, two_cores, two_cores}, {"n"}, {}, {}));
  EXPECT_DOUBLE_EQ(shared.peak_flops * 4, alone.peak_flops);
  EXPECT_DOUBLE_EQ(shared.memory_Bps * 4, alone.memory_Bps);
  EXPECT_NE(shared.name.find("shared by 4 ranks"), std::string::npos) << shared.name;
  // What a rank measured alone is worth when all run (a profile's rates): 4 ranks of one
  // thread on 2 PUs get half each, 2 ranks on cores of their own all of it.
  const launcher::Topology four({two_cores, two_cores, two_cores, two_cores}, {"n"}, {}, {});
  EXPECT_DOUBLE_EQ(cpu_share(four, four.devices()[0], 1), 0.5);
  EXPECT_DOUBLE_EQ(cpu_share(four, four.devices()[0], 0), 0.25) << "threads unknown";
  launcher::Device core0 = two_cores, core1 = two_cores;
  core0.cpuset = "0";
  core1.cpuset = "1";
  const launcher::Topology own({core0, core1}, {"n"}, {}, {});
  EXPECT_DOUBLE_EQ(cpu_share(own, own.devices()[1], 1), 1.0);
}

// Four ranks bound to the same two cores.
launcher::Topology four_ranks_on_two_cores() {
  launcher::Device two_cores;
  two_cores.kind = launcher::DeviceKind::core;
  two_cores.cpuset = "0-1";
  return launcher::Topology({two_cores, two_cores, two_cores, two_cores}, {"n"}, {}, {});
}

// Ranks that take turns on their PUs in lockstep keep less than their share of them, the
// less the shorter the stretch between collectives (runtime/profile_sharing.h): the time
// lost is stretch x (1 / kept - 1), on the measured curve held at its ends; the model's
// kernel rates stay the share's, and a device whose ranks take no turns loses nothing.
TEST(DeviceModel, TurnsTakenOnSharedPusCostTimeByTheStretchBetweenCollectives) {
  const launcher::Topology four = four_ranks_on_two_cores();
  DeviceOverrides measured;
  measured.cpu_flops = 200e9;
  const DeviceModel fair = device_model(four, measured);
  EXPECT_EQ(fair.turn_seconds(1e-5), 0.0);
  measured.turns_by_stretch = {{1e-5, 0.5}, {1e-3, 0.8}, {1e-2, 1.0}};
  const DeviceModel turns = device_model(four, measured);
  EXPECT_DOUBLE_EQ(turns.peak_flops, fair.peak_flops) << "the rates stay the share's";
  EXPECT_DOUBLE_EQ(turns.turn_seconds(1e-5), 1e-5);
  EXPECT_DOUBLE_EQ(turns.turn_seconds(1e-6), 1e-6) << "held at the shortest stretch's";
  EXPECT_NEAR(turns.turn_seconds(1e-4), 1e-4 * (1 / 0.65 - 1), 1e-15) << "linear in log(stretch) between points";
  EXPECT_DOUBLE_EQ(turns.turn_seconds(1e-3), 1e-3 * 0.25);
  EXPECT_EQ(turns.turn_seconds(1.0), 0.0) << "nothing lost over long stretches";
  EXPECT_EQ(turns.turn_seconds(0.0), 0.0);
}

// Turns that refill a core's cache (the filled curve) cost a step by the bytes a rank holds,
// whatever the cache's size: none up to the plain curve's kernels' operands, all from
// kTurnsRefilledFrom times them, linear in the log between; a step holding nothing, or no
// such curve, the plain curve's.
TEST(DeviceModel, TurnsRefillingTheCacheCostMoreWhereTheStepsDataOutgrowsThePlainCurvesKernels) {
  const launcher::Topology four = four_ranks_on_two_cores();
  DeviceOverrides measured;
  measured.cpu_flops = 200e9;
  measured.cpu_private_cache_bytes = 64 << 20;  // not what decides
  measured.turns_by_stretch = {{1e-5, 0.5}, {1e-3, 0.8}};
  const DeviceModel plain = device_model(four, measured);
  measured.turns_by_stretch_filled = {{1e-5, 0.4}, {1e-3, 0.5}};
  const DeviceModel filled = device_model(four, measured);
  EXPECT_DOUBLE_EQ(filled.turn_seconds(1e-3), 1e-3 * 0.25) << "nothing held: the plain curve";
  EXPECT_DOUBLE_EQ(filled.turn_seconds(1e-3, kTurnsMatmulBytes), 1e-3 * 0.25);
  EXPECT_DOUBLE_EQ(filled.turn_seconds(1e-3, kTurnsRefilledFrom * kTurnsMatmulBytes), 1e-3 * 1.0);
  EXPECT_DOUBLE_EQ(filled.turn_seconds(1e-3, 1e9), 1e-3 * 1.0);
  EXPECT_NEAR(filled.turn_seconds(1e-3, std::sqrt(kTurnsRefilledFrom) * kTurnsMatmulBytes), 1e-3 * (1 / 0.65 - 1), 1e-12)
      << "half way in the log";
  EXPECT_DOUBLE_EQ(plain.turn_seconds(1e-3, 1e9), 1e-3 * 0.25) << "no curve of a filled cache: the plain one";
  EXPECT_DOUBLE_EQ(filled.turn_refill_part(512 << 10), 1.0) << "mlp's half MiB a rank";
}

// A collective in a step whose kernels wrote over a core's cache since the last takes longer
// than lined up (runtime/profile_cold.h): all of the measured extra at its size from 4x the
// cache written on, none within a quarter of it, linear in the log between; the writes of
// ranks sharing a core count together; where turns are charged, their one-float line-ups
// held that much of it.
TEST(DeviceModel, ACollectiveAfterKernelsWroteOverACoresCacheTakesItsColdExtra) {
  launcher::Device two_cores;
  two_cores.kind = launcher::DeviceKind::core;
  two_cores.cpuset = "0-1";
  DeviceOverrides measured;
  measured.cpu_private_cache_bytes = 1 << 20;
  measured.collective_cold_s = {{4096, 2e-6}, {262144, 10e-6}, {4 << 20, 0}};
  const DeviceModel own = device_model(launcher::Topology({two_cores, two_cores}, {"n"}, {}, {}), measured);
  EXPECT_EQ(own.ranks_per_cache, 1.0);
  EXPECT_EQ(own.collective_cold_seconds(262144, 0), 0.0);
  EXPECT_DOUBLE_EQ(own.collective_cold_seconds(262144, 4 << 20), 10e-6);
  EXPECT_DOUBLE_EQ(own.collective_cold_seconds(262144, 64 << 20), 10e-6) << "all of it, however much more";
  EXPECT_NEAR(own.collective_cold_seconds(32768, 4 << 20), 6e-6, 1e-15) << "linear in log(bytes) between sizes";
  EXPECT_DOUBLE_EQ(own.collective_cold_seconds(16 << 20, 4 << 20), 0.0) << "beyond the cache anyway";
  EXPECT_EQ(own.collective_cold_seconds(262144, 256 << 10), 0.0) << "within a quarter of the cache";
  EXPECT_NEAR(own.collective_cold_seconds(262144, 1 << 20), 5e-6, 1e-15) << "halfway in log(touched)";
  // Four ranks on the two cores: two write over each cache.
  const DeviceModel shared = device_model(launcher::Topology({two_cores, two_cores, two_cores, two_cores}, {"n"}, {}, {}), measured);
  EXPECT_EQ(shared.ranks_per_cache, 2.0);
  EXPECT_NEAR(shared.collective_cold_seconds(262144, 512 << 10), 5e-6, 1e-15);
  measured.turns_by_stretch = {{1e-5, 0.5}};
  const DeviceModel turns = device_model(launcher::Topology({two_cores, two_cores, two_cores, two_cores}, {"n"}, {}, {}), measured);
  EXPECT_DOUBLE_EQ(turns.collective_cold_seconds(262144, 4 << 20), 8e-6) << "less a one-float collective's";
  measured.turns_by_stretch.clear();
  measured.cpu_private_cache_bytes = 0;
  const DeviceModel unknown = device_model(launcher::Topology({two_cores, two_cores}, {"n"}, {}, {}), measured);
  EXPECT_DOUBLE_EQ(unknown.collective_cold_seconds(262144, 1), 10e-6) << "a cache not known: all of it";
  measured.collective_cold_s.clear();
  EXPECT_EQ(device_model(launcher::Topology({two_cores}, {"n"}, {}, {}), measured).collective_cold_seconds(262144, 64 << 20), 0.0);
}

// A CPU's rates measured at bind replace the table's guess, shared out among ranks on the
// same cores as the guess is; a memory-bound op reads its bytes/s by the bytes it moves;
// the user's figure wins, and a GPU keeps its row.
TEST(DeviceModel, MeasuredCpuRatesReplaceTheGuessAndAreSharedOut) {
  launcher::Device two_cores;
  two_cores.kind = launcher::DeviceKind::core;
  two_cores.cpuset = "0-1";
  DeviceOverrides measured;
  measured.cpu_flops = 200e9;
  measured.cpu_flops_by_size = {{1e6, 50e9}, {1e9, 200e9}};
  measured.cpu_bytes_by_size = {{1e5, 100e9}, {1e8, 20e9}};
  const DeviceModel alone = device_model(launcher::Topology({two_cores}, {"n"}, {}, {}), measured);
  EXPECT_DOUBLE_EQ(alone.peak_flops, 200e9);
  EXPECT_DOUBLE_EQ(alone.memory_Bps, 20e9) << "beyond the caches: the largest size's rate";
  const DeviceModel shared = device_model(launcher::Topology({two_cores, two_cores}, {"n"}, {}, {}), measured);
  EXPECT_DOUBLE_EQ(shared.peak_flops, 100e9);
  ASSERT_EQ(shared.flops_by_size.size(), 2u);
  EXPECT_DOUBLE_EQ(shared.flops_by_size[0].second, 25e9);
  EXPECT_DOUBLE_EQ(shared.bytes_by_size[0].second, 50e9);

  // Measured by a rank of 1 thread: 2 such ranks on 2 PUs each keep a PU of their own, 4
  // take turns two to a PU (not four: rank 0 measured one PU's rate, not two's).
  measured.cpu_threads = 1;
  measured.cpu_flops_by_op = {0, 8e9};
  const DeviceModel two_of_one = device_model(launcher::Topology({two_cores, two_cores}, {"n"}, {}, {}), measured);
  EXPECT_DOUBLE_EQ(two_of_one.peak_flops, 200e9);
  EXPECT_EQ(two_of_one.flops_by_op, (std::vector<double>{0, 8e9}));
  const DeviceModel four_of_one =
      device_model(launcher::Topology({two_cores, two_cores, two_cores, two_cores}, {"n"}, {}, {}), measured);
  EXPECT_DOUBLE_EQ(four_of_one.peak_flops, 100e9);
  EXPECT_EQ(four_of_one.flops_by_op, (std::vector<double>{0, 4e9}));
  // A kernel's fixed cost measured alone is shared out as the rates are: ranks taking turns
  // on a PU each pay theirs on it. The user's figure, as it stands, wins.
  measured.cpu_op_latency_s = 2e-6;
  measured.cpu_flops_by_op_in_cache = {0, 16e9};
  measured.cpu_private_cache_bytes = 2 << 20;
  measured.cpu_beyond_cache_reach_bytes = 64 << 20;
  measured.cpu_gemm_after_writes = 1.3, measured.cpu_gemm_after_writes_below_bytes = 1 << 20;
  measured.cpu_gemm_beyond_cache = 1.1, measured.cpu_batched_gemm_beyond_cache = 1.5;
  const launcher::Topology four_ranks({two_cores, two_cores, two_cores, two_cores}, {"n"}, {}, {});
  EXPECT_DOUBLE_EQ(device_model(four_ranks, measured).op_latency_s, 4e-6);
  measured.cpu_op_latency_by_op = {0, 0.5e-6};  // each op's own, shared out alike
  EXPECT_EQ(device_model(four_ranks, measured).op_latency_by_op, (std::vector<double>{0, 1e-6}));
  EXPECT_DOUBLE_EQ(device_model(four_ranks, measured).op_latency(1), 1e-6);
  EXPECT_DOUBLE_EQ(device_model(four_ranks, measured).op_latency(0), 4e-6);
  measured.op_latency_by_op = {0, 0.3e-6};  // as they stand (a refit's): they win
  EXPECT_EQ(device_model(four_ranks, measured).op_latency_by_op, (std::vector<double>{0, 0.3e-6}));
  measured.op_latency_by_op.clear(), measured.cpu_op_latency_by_op.clear();
  EXPECT_EQ(device_model(four_ranks, measured).flops_by_op_in_cache, (std::vector<double>{0, 8e9}));
  EXPECT_EQ(device_model(four_ranks, measured).private_cache_bytes, 2 << 20);
  EXPECT_EQ(device_model(four_ranks, measured).beyond_cache_reach_bytes, 64 << 20) << "bytes: not shared out";
  EXPECT_DOUBLE_EQ(device_model(four_ranks, measured).gemm_after_writes, 1.3) << "a ratio of times: not shared out";
  EXPECT_DOUBLE_EQ(device_model(four_ranks, measured).gemm_after_writes_below_bytes, 1 << 20);
  EXPECT_DOUBLE_EQ(device_model(four_ranks, measured).gemm_beyond_cache, 1.1);
  EXPECT_DOUBLE_EQ(device_model(four_ranks, measured).batched_gemm_beyond_cache, 1.5);
  EXPECT_DOUBLE_EQ(device_model(launcher::Topology({two_cores, two_cores}, {"n"}, {}, {}), measured).op_latency_s, 2e-6);
  measured.op_latency_s = 3e-6;
  EXPECT_DOUBLE_EQ(device_model(four_ranks, measured).op_latency_s, 3e-6);
  measured.op_latency_s = 0, measured.cpu_op_latency_s = 0;
  measured.cpu_flops_by_op_in_cache.clear();
  measured.cpu_gemm_after_writes = 0, measured.cpu_gemm_after_writes_below_bytes = 0;
  measured.cpu_gemm_beyond_cache = 0, measured.cpu_batched_gemm_beyond_cache = 0;
  EXPECT_DOUBLE_EQ(device_model(four_ranks, measured).gemm_beyond_cache, 1) << "not measured";
  measured.cpu_threads = 2;  // a rank alone on both PUs: shared by 2 ranks, half each
  EXPECT_DOUBLE_EQ(device_model(launcher::Topology({two_cores, two_cores}, {"n"}, {}, {}), measured).peak_flops, 100e9);
  measured.cpu_threads = 4;  // more threads than PUs: rank 0 measured both PUs' rate, no more
  EXPECT_DOUBLE_EQ(device_model(launcher::Topology({two_cores, two_cores}, {"n"}, {}, {}), measured).peak_flops, 100e9);
  EXPECT_DOUBLE_EQ(device_model(launcher::Topology({two_cores}, {"n"}, {}, {}), measured).peak_flops, 200e9)
      << "a rank alone keeps the rate it measured, whatever its threads";
  measured.cpu_threads = 0;
  measured.cpu_flops_by_op.clear();

  // An add of 4096 floats moves 48 KiB: in the caches, at the small size's rate, where the
  // table's one bandwidth would take it at the memory's.
  ir::Graph g;
  const ir::TensorType t{ir::DType::f32, {4096}};
  g.nodes.push_back({"input", {}, {}, t, "a"});
  g.nodes.push_back({"input", {}, {}, t, "b"});
  g.nodes.push_back({"add", {0, 1}, {}, t, "sum"});
  EXPECT_DOUBLE_EQ(op_seconds(g, 2, alone), 3.0 * 4096 * 4 / 100e9);

  measured.peak_flops = 1e9;  // the user's
  EXPECT_DOUBLE_EQ(device_model(launcher::Topology({two_cores}, {"n"}, {}, {}), measured).peak_flops, 1e9);
  EXPECT_DOUBLE_EQ(device_model(dgx2(1), measured).peak_flops, 1e9);
  measured.peak_flops = 0;
  EXPECT_DOUBLE_EQ(device_model(dgx2(1), measured).peak_flops, 15.7e12) << "a GPU keeps its table row";
}

// A rank of one processing unit leaves its communication thread no core of its own; a rank
// of several has one; a device whose processing units are unknown is not assumed to share.
TEST(DeviceModel, ARankOfOneProcessingUnitSharesItWithItsCommunicationThread) {
  launcher::Device one, two, unknown;
  one.kind = two.kind = unknown.kind = launcher::DeviceKind::core;
  one.cpuset = "3";
  two.cpuset = "0-1";
  EXPECT_TRUE(device_model(launcher::Topology({one}, {"n"}, {}, {})).comm_shares_core);
  EXPECT_FALSE(device_model(launcher::Topology({two}, {"n"}, {}, {})).comm_shares_core);
  EXPECT_TRUE(device_model(launcher::Topology({two, two}, {"n"}, {}, {})).comm_shares_core) << "two ranks on two PUs";
  EXPECT_FALSE(device_model(launcher::Topology({unknown}, {"n"}, {}, {})).comm_shares_core);
  EXPECT_FALSE(device_model(dgx2(1)).comm_shares_core);
}

TEST(Simulator, StepIsBoundedByItsStreams) {
  ir::Graph g = step_of(kGpt);
  launcher::Topology t = flat_topology(4);
  DeviceModel device = device_model(t);
  for (const char* strategy : {"dp", "megatron", "zero"}) {
    Plan plan = apply_tactics(g, builtin_strategy(strategy, g, 4));
    Prediction p = simulate(lower(g, plan), plan.mesh, t, device);
    EXPECT_GT(p.comm_s, 0) << strategy;
    EXPECT_GE(p.step_time_s, p.compute_s) << strategy;
    EXPECT_LE(p.step_time_s, p.compute_s + p.comm_s + 1e-12) << strategy;
    EXPECT_NEAR(p.exposed_comm_s, p.step_time_s - p.compute_s, 1e-12) << strategy;
  }
  Plan one = replicated_plan(g, {{"data"}, {1}});
  Prediction p = simulate(lower(g, one), one.mesh, flat_topology(1), device);
  EXPECT_EQ(p.comm_s, 0);
  EXPECT_DOUBLE_EQ(p.step_time_s, p.compute_s);
}

// Collectives holding the compute stream (no overlap) add their whole time to the step;
// on their own stream, data parallelism's gradient reductions issued during backward hide
// part of theirs.
TEST(Simulator, OverlapHidesPartOfDataParallelCommunication) {
  ir::Graph g = step_of(kGpt);
  launcher::Topology t = flat_topology(4);
  DeviceModel device = device_model(t);
  device.comm_shares_core = false;  // the communication thread has a core of its own
  for (const char* strategy : {"dp", "megatron", "zero"}) {
    Plan plan = apply_tactics(g, builtin_strategy(strategy, g, 4));
    Program program = lower(g, plan);
    CollectiveCosts costs(plan.mesh, t);
    Prediction on = simulate(program, device, costs, true), off = simulate(program, device, costs, false);
    EXPECT_NEAR(off.step_time_s, off.compute_s + off.comm_s, 1e-9 * off.step_time_s) << strategy;
    EXPECT_LE(on.step_time_s, off.step_time_s) << strategy;
    if (std::string(strategy) == "dp") {
      EXPECT_LT(on.exposed_comm_s, off.exposed_comm_s) << strategy;
    }
  }
}

// What each optimizer update of `program` (over `mesh` on 2 CPU devices) takes beyond its
// time where rewriting memory peers read costs 1 GB/s, by update.
std::vector<std::pair<ir::ValueId, double>> extra_of_updates(const Program& program, const Mesh& mesh) {
  const launcher::Topology t = flat_topology(2);
  DeviceModel device = device_model(t);
  device.bytes_by_size = {{1 << 20, 50e9}, {1 << 30, 10e9}};
  DeviceModel rewriting = device;
  rewriting.peer_rewrite_Bps = 1e9;
  CollectiveCosts costs(mesh, t);
  std::vector<SimulatedLaunch> before, after;
  simulate(program, device, costs, false, &before);
  simulate(program, rewriting, costs, false, &after);
  EXPECT_EQ(before.size(), after.size());
  std::vector<std::pair<ir::ValueId, double>> out;
  for (size_t i = 0; i < std::min(before.size(), after.size()); ++i) {
    if (!ir::op_traits(program.graph.node(before[i].node).op).optimizer_update) continue;
    out.emplace_back(before[i].node, after[i].duration_s - before[i].duration_s);
  }
  return out;
}

// ZeRO's optimizer rewrites in place the parameter shards its all-gathers handed to peers
// at the step's start: on a device where that costs (peer_rewrite_Bps), each update of a
// shard (AdamW's) takes its bytes at that rate longer, its state's (the moments') no
// longer. Data parallelism's updates rewrite parameters no peer read, and cost the same.
TEST(Simulator, ZerosUpdatesPayForRewritingTheShardsPeersGathered) {
  ir::Graph g = step_of(kGpt);
  for (const char* strategy : {"zero", "dp"}) {
    Plan plan = apply_tactics(g, builtin_strategy(strategy, g, 2));
    const Program program = lower(g, plan);
    const auto extras = extra_of_updates(program, plan.mesh);
    for (const auto& [v, extra] : extras) {
      const ir::Node& n = program.graph.node(v);
      const double shard = static_cast<double>(program.graph.type(n.inputs[0]).bytes());
      const bool rewrites_a_shard = std::string(strategy) == "zero" && n.op == "adamw";
      EXPECT_NEAR(extra, rewrites_a_shard ? shard / 1e9 : 0, 1e-12) << strategy << " %" << v;
    }
    EXPECT_GT(extras.size(), 4u) << strategy;
  }
}

// A bucket of gathers on 2 devices runs over its members where they lie (collectives'
// Pieces), so peers read the shards themselves, as without a bucket: each AdamW update
// pays for rewriting its shard as an unbucketed gather's does.
TEST(Simulator, UpdatesOfShardsGatheredInPiecesPayAsWithoutABucket) {
  ir::Graph g = step_of(kGpt);
  Plan plan = apply_tactics(g, builtin_strategy("zero", g, 2));
  const Program program = bucket_gradients(lower(g, plan), 64 << 20);
  int gathered = 0;
  for (ir::ValueId v = 0; v < program.graph.size(); ++v) {
    if (program.graph.node(v).attrs.i("bucket", -1) >= 0 && bucket_at(program.graph, v).gathers) ++gathered;
  }
  ASSERT_GT(gathered, 4);  // the params' gathers are bucketed
  const auto extras = extra_of_updates(program, plan.mesh);
  for (const auto& [v, extra] : extras) {
    const ir::Node& n = program.graph.node(v);
    const double shard = static_cast<double>(program.graph.type(n.inputs[0]).bytes());
    EXPECT_NEAR(extra, n.op == "adamw" ? shard / 1e9 : 0, 1e-12) << "%" << v;
  }
  EXPECT_GT(extras.size(), 4u);
}

// A bucket of reduce-scatters sums into its members' gradients where they lie only where
// each is the collective's to lose (the executor's run_in_pieces): where a later reader
// keeps one (here an output), the bucket is packed, and costs the packing's copies more.
TEST(Simulator, AReduceScatterBucketWhoseGradientIsKeptPaysForPacking) {
  ir::Graph g = step_of(kGpt);
  Plan plan = apply_tactics(g, builtin_strategy("zero", g, 2));
  const Program program = bucket_gradients(lower(g, plan), 64 << 20);
  const launcher::Topology t = flat_topology(2);
  DeviceModel device = device_model(t);
  device.bytes_by_size = {{1 << 20, 50e9}, {1 << 30, 10e9}};
  CollectiveCosts costs(plan.mesh, t);
  ir::ValueId first = -1;
  for (ir::ValueId v = 0; v < program.graph.size() && first < 0; ++v) {
    if (program.graph.node(v).attrs.i("bucket", -1) < 0) continue;
    const BucketCollective b = bucket_at(program.graph, v);
    if (!b.gathers && b.members.size() > 1 && b.members.front() == v) first = v;
  }
  ASSERT_GE(first, 0) << "a bucket of several reduce-scatters";
  const BucketCollective bucket = bucket_at(program.graph, first);
  CollectiveRecord record;
  for (const CollectiveRecord& r : program.collectives) {
    if (r.at == first) record = r;
  }
  record.global = bucket.global;
  record.from_layout = bucket.from;
  record.to_layout = bucket.to;
  record.bytes = bucket.bytes;
  ASSERT_TRUE(costs.runs_in_pieces(record)) << "its algorithm runs in pieces";
  Program kept = program;
  kept.graph.outputs.emplace_back("kept_gradient", kept.graph.node(first).inputs.at(0));
  auto duration = [&](const Program& p) {
    std::vector<SimulatedLaunch> launches;
    simulate(p, device, costs, false, &launches);
    for (const SimulatedLaunch& l : launches) {
      if (l.node == first) return l.duration_s;
    }
    return -1.0;
  };
  const double in_pieces = duration(program), packed = duration(kept);
  ASSERT_GT(in_pieces, 0);
  EXPECT_GT(packed, in_pieces * 1.01);
}

// Where the communication thread shares the main thread's core, it runs only while the
// main thread waits: each collective plays where its result is first read, and the step
// costs what it costs without overlap (no hand-off or wait for peers here), more than with
// a core of its own.
TEST(Simulator, ACommunicationThreadOnTheComputeCoreOverlapsNothing) {
  ir::Graph g = step_of(kGpt);
  launcher::Topology t = flat_topology(4);
  DeviceModel own = device_model(t), shared = own;
  own.comm_shares_core = false;
  shared.comm_shares_core = true;
  Plan plan = apply_tactics(g, builtin_strategy("dp", g, 4));
  Program program = lower(g, plan);
  CollectiveCosts costs(plan.mesh, t);
  std::vector<SimulatedLaunch> launches;
  const Prediction lazy = simulate(program, shared, costs, true, &launches);
  const Prediction serial = simulate(program, own, costs, false);
  EXPECT_NEAR(lazy.step_time_s, serial.step_time_s, 1e-9 * serial.step_time_s);
  EXPECT_LT(simulate(program, own, costs, true).step_time_s, lazy.step_time_s);
  EXPECT_DOUBLE_EQ(lazy.comm_s, serial.comm_s);
  // No two launches overlap: the core runs one at a time.
  std::sort(launches.begin(), launches.end(), [](const SimulatedLaunch& a, const SimulatedLaunch& b) { return a.start_s < b.start_s; });
  for (size_t i = 1; i < launches.size(); ++i)
    EXPECT_GE(launches[i].start_s, launches[i - 1].start_s + launches[i - 1].duration_s - 1e-12) << i;
}

// Played where its result is first read, a collective still meets the other ranks' turns
// over the stretch up to where it was issued (the communication thread is woken there):
// deferring it does not merge stretches into longer ones that keep more of the share, so
// with turns charged the step still costs what it costs without overlap.
TEST(Simulator, ACollectivePlayedWhereReadTakesTheTurnsUpToWhereItWasIssued) {
  ir::Graph g = step_of(kGpt);
  launcher::Topology t = flat_topology(4);
  DeviceModel own = device_model(t);
  own.comm_shares_core = false;
  own.turns_by_stretch = {{1e-6, 0.5}, {1e-2, 1.0}};  // longer stretches keep more
  DeviceModel shared = own;
  shared.comm_shares_core = true;
  Plan plan = apply_tactics(g, builtin_strategy("dp", g, 4));
  Program program = lower(g, plan);
  CollectiveCosts costs(plan.mesh, t);
  const Prediction lazy = simulate(program, shared, costs, true);
  const Prediction serial = simulate(program, own, costs, false);
  ASSERT_GT(serial.step_time_s, simulate(program, device_model(t), costs, false).step_time_s) << "turns charged";
  EXPECT_NEAR(lazy.step_time_s, serial.step_time_s, 1e-9 * serial.step_time_s);
}

// On one device no layout moves anything, so ZeRO's program is the replicated one and is
// predicted alike, with no communication.
TEST(Simulator, ZeroOnOneDeviceIsPredictedAsTheReplicatedStep) {
  ir::Graph g = step_of(kGpt);
  launcher::Topology t = flat_topology(1);
  const DeviceModel device = device_model(t);
  Plan zero = apply_tactics(g, builtin_strategy("zero", g, 1));
  Plan replicated = apply_tactics(g, builtin_strategy("dp", g, 1));
  CollectiveCosts costs(zero.mesh, t);
  std::vector<SimulatedLaunch> launches;
  const Prediction z = simulate(lower(g, zero), device, costs, true, &launches);
  EXPECT_DOUBLE_EQ(z.step_time_s, simulate(lower(g, replicated), device, costs, true).step_time_s);
  EXPECT_EQ(z.comm_s, 0.0);
  EXPECT_TRUE(std::none_of(launches.begin(), launches.end(), [](const SimulatedLaunch& l) { return l.communication; }));
}

// Where ranks share PUs, each collective between devices waits for the turns taken over the
// stretch of compute since the previous one, and the step's end for those after the last:
// keeping half their share, every op's compute is paid once more, and nothing else moves.
TEST(Simulator, RanksSharingPusPayTheirTurnsOverEveryStretchBetweenCollectives) {
  ir::Graph g = step_of(kGpt);
  launcher::Topology t = flat_topology(4);
  DeviceModel device = device_model(t);
  DeviceModel sharing = device;
  sharing.turns_by_stretch = {{1e-9, 0.5}};
  Plan plan = apply_tactics(g, builtin_strategy("dp", g, 4));
  Program program = lower(g, plan);
  CollectiveCosts costs(plan.mesh, t);
  const Prediction alone = simulate(program, device, costs, false);
  const Prediction turns = simulate(program, sharing, costs, false);
  EXPECT_NEAR(turns.step_time_s, alone.step_time_s + alone.compute_s, 1e-9 * turns.step_time_s);
  EXPECT_DOUBLE_EQ(turns.compute_s, alone.compute_s);
  EXPECT_DOUBLE_EQ(turns.comm_s, alone.comm_s);
  EXPECT_EQ(turns.peak_bytes, alone.peak_bytes);
}

// The rank's own compute before and after its program (the feed, the finite check) is part
// of the first and the last stretch: its turns are charged with theirs, its own time is the
// caller's to add; without turns it changes nothing.
TEST(Simulator, RanksSharingPusPayTheTurnsOfTheStepsOwnComputeBeforeAndAfterTheProgram) {
  ir::Graph g = step_of(kGpt);
  launcher::Topology t = flat_topology(4);
  DeviceModel sharing = device_model(t);
  sharing.turns_by_stretch = {{1e-9, 0.5}};
  Plan plan = apply_tactics(g, builtin_strategy("dp", g, 4));
  Program program = lower(g, plan);
  CollectiveCosts costs(plan.mesh, t);
  const Prediction program_only = simulate(program, sharing, costs, false);
  DeviceModel outside = sharing;
  outside.step_lead_in_s = 1e-5;
  outside.step_lead_out_s = 2e-5;
  const Prediction with_outside = simulate(program, outside, costs, false);
  EXPECT_NEAR(with_outside.step_time_s, program_only.step_time_s + 3e-5, 1e-9 * with_outside.step_time_s);
  EXPECT_DOUBLE_EQ(with_outside.compute_s, program_only.compute_s);
  DeviceModel alone = device_model(t), alone_outside = alone;
  alone_outside.step_lead_in_s = 1e-5;
  alone_outside.step_lead_out_s = 2e-5;
  EXPECT_DOUBLE_EQ(simulate(program, alone_outside, costs, false).step_time_s,
                   simulate(program, alone, costs, false).step_time_s);
}

// A collective between devices with kernels before it since the last (or, the step's first,
// after the last) takes the cold extra of its size; one right after another (ZeRO's
// gathers of params, back to back), none; the compute stays as it was.
TEST(Simulator, CollectivesAfterKernelsTakeTheirColdExtraOnesBackToBackDoNot) {
  ir::Graph g = step_of(kGpt);
  launcher::Topology t = flat_topology(4);
  DeviceModel device = device_model(t);
  ASSERT_EQ(device.private_cache_bytes, 0) << "not known: any kernel's writes count whole";
  DeviceModel cold = device;
  cold.collective_cold_s = {{1, 1e-4}};
  Plan plan = apply_tactics(g, builtin_strategy("zero", g, 4));
  Program program = lower(g, plan);
  CollectiveCosts costs(plan.mesh, t);
  std::vector<SimulatedLaunch> launches;
  const Prediction lined_up = simulate(program, device, costs, false, &launches);
  int after_kernels = 0, back_to_back = 0;
  bool kernels_since = false;
  for (const SimulatedLaunch& l : launches) kernels_since = kernels_since || !l.communication;  // the step's tail
  for (const SimulatedLaunch& l : launches) {
    if (!l.communication) {
      kernels_since = true;
      continue;
    }
    for (const CollectiveRecord& r : program.collectives) {
      if (r.at != l.node || !costs.across_devices(r)) continue;
      (kernels_since ? after_kernels : back_to_back) += 1;
      kernels_since = false;
    }
  }
  ASSERT_GT(after_kernels, 0);
  ASSERT_GT(back_to_back, 0);
  const Prediction in_step = simulate(program, cold, costs, false);
  EXPECT_NEAR(in_step.step_time_s, lined_up.step_time_s + after_kernels * 1e-4, 1e-9 * in_step.step_time_s);
  EXPECT_NEAR(in_step.comm_s, lined_up.comm_s + after_kernels * 1e-4, 1e-9 * in_step.comm_s);
  EXPECT_DOUBLE_EQ(in_step.compute_s, lined_up.compute_s);
}

// Without overlap, each collective between devices waits for the slowest rank: the fixed
// wait once per collective, the fraction of the compute since the previous one once over
// the step (every op's compute counted once); a program whose collectives stay on one
// device waits for no one.
TEST(Simulator, CollectivesBetweenDevicesWaitForTheSlowestRank) {
  ir::Graph g = step_of(kGpt);
  launcher::Topology t = flat_topology(4);
  DeviceModel device = device_model(t);
  DeviceModel noisy = device;
  noisy.sync_wait_s = 1e-4;
  noisy.sync_wait_fraction = 0.25;
  Plan plan = apply_tactics(g, builtin_strategy("dp", g, 4));
  Program program = lower(g, plan);
  CollectiveCosts costs(plan.mesh, t);
  int between = 0;
  double compute_before_last = 0;
  std::vector<SimulatedLaunch> launches;
  const Prediction quiet = simulate(program, device, costs, false, &launches);
  for (const SimulatedLaunch& l : launches) {
    if (!l.communication) {
      compute_before_last += l.duration_s;
      continue;
    }
    for (const CollectiveRecord& r : program.collectives) {
      if (r.at != l.node || !costs.across_devices(r)) continue;
      ++between;
      compute_before_last = 0;  // the waits cover the compute up to here
    }
  }
  ASSERT_GT(between, 0);
  const Prediction waited = simulate(program, noisy, costs, false);
  EXPECT_NEAR(waited.step_time_s,
              quiet.step_time_s + between * 1e-4 + 0.25 * (quiet.compute_s - compute_before_last),
              1e-9 * waited.step_time_s);
  EXPECT_DOUBLE_EQ(waited.compute_s, quiet.compute_s);
  Plan one = apply_tactics(g, builtin_strategy("zero", g, 1));
  Program local = lower(g, one);
  const launcher::Topology single = flat_topology(1);
  CollectiveCosts alone(one.mesh, single);
  EXPECT_DOUBLE_EQ(simulate(local, noisy, alone, false).step_time_s, simulate(local, device, alone, false).step_time_s);
}

// Overlapped, each collective that moves data pays the hand-off to the communication
// thread and back (half before it starts, half after it ends); run in order, none does.
TEST(Simulator, OverlappedCollectivesPayTheHandOff) {
  ir::Graph g = step_of(kGpt);
  launcher::Topology t = flat_topology(4);
  DeviceModel device = device_model(t);
  DeviceModel slow_handoff = device;
  slow_handoff.handoff_s = 1e-3;  // far above the step's own times: it shows
  Plan plan = apply_tactics(g, builtin_strategy("megatron", g, 4));
  Program program = lower(g, plan);
  CollectiveCosts costs(plan.mesh, t);
  const Prediction on = simulate(program, device, costs, true);
  const Prediction handed = simulate(program, slow_handoff, costs, true);
  EXPECT_GT(handed.step_time_s, on.step_time_s + 0.5e-3) << "at least the last collective's half";
  EXPECT_DOUBLE_EQ(handed.comm_s, on.comm_s);
  EXPECT_DOUBLE_EQ(simulate(program, slow_handoff, costs, false).step_time_s,
                   simulate(program, device, costs, false).step_time_s);
}

// The main thread waits for a gradient reduction before it issues the second after it
// (schedule.h's in-flight limit), so with links too slow to keep up, that issue starts only
// when the reduction has finished, and the step is longer than with the stream unbounded
// would be: at least every reduction's time.
TEST(Simulator, TheMainThreadWaitsForAReductionAtItsInFlightLimit) {
  ir::Graph g = step_of(kGpt);
  const launcher::Topology flat = flat_topology(4);
  std::vector<launcher::LinkModel> slow;
  for (const launcher::Level& level : flat.levels()) slow.push_back({level.link.latency_s, level.link.bandwidth_Bps / 1e4});
  const launcher::Topology t = flat.with_links(slow);  // collectives far slower than kernels
  DeviceModel device = device_model(t);
  device.comm_shares_core = false;
  Plan plan = apply_tactics(g, builtin_strategy("zero", g, 4));
  const Program program = schedule_for_overlap(lower(g, plan));
  CollectiveCosts costs(plan.mesh, t);
  std::vector<SimulatedLaunch> launches;
  const Prediction p = simulate(program, device, costs, true, &launches);
  std::vector<double> start(program.graph.nodes.size(), -1), end(program.graph.nodes.size(), -1);
  for (const SimulatedLaunch& l : launches) {
    start[l.node] = l.start_s;
    end[l.node] = l.start_s + l.duration_s;
  }
  const std::vector<ir::ValueId> limits = in_flight_limits(program.graph);
  int limited = 0;
  for (ir::ValueId c = 0; c < program.graph.size(); ++c) {
    if (limits[c] < 0) continue;
    // The first op the main thread computes from the limit on.
    ir::ValueId next = limits[c];
    while (next < program.graph.size() && (start[next] < 0 || ir::op_traits(program.graph.node(next).op).collective)) ++next;
    if (next == program.graph.size()) continue;
    EXPECT_GE(start[next], end[c] - 1e-12) << "%" << next << " computed before %" << c << " finished";
    ++limited;
  }
  EXPECT_GT(limited, 4);
  EXPECT_GE(p.step_time_s, p.comm_s);
}

SearchOptions small_search() {
  SearchOptions o;
  o.exhaustive = true;
  return o;
}

TEST(Search, MctsReachesTheExhaustiveOptimumAndIsDeterministic) {
  ir::Graph g = step_of(kGpt);
  launcher::Topology t = launcher::load_topology({"synthetic:package:2 core:4", 1, launcher::DeviceKind::core});
  SearchOptions untuned = small_search();
  untuned.tuned = 0;  // the oracle of the search space itself, as MCTS's Evaluator costs it
  SearchResult exhaustive = search_plan(g, t, untuned);
  ASSERT_GT(exhaustive.simulations, 10);
  const int budget = exhaustive.simulations * 3 / 4;  // MCTS must find it without playing everything
  for (std::uint64_t seed : {1, 2, 3, 4, 5}) {
    Evaluator a(g, t, {}), b(g, t, {});
    run_mcts(a, budget, seed);
    run_mcts(b, budget, seed);
    EXPECT_LE(a.simulations(), budget);
    EXPECT_EQ(a.explored().front().candidate, exhaustive.best().candidate)
        << "seed " << seed << ": " << a.explored().front().name << " " << a.explored().front().prediction.step_time_s
        << " s against " << exhaustive.best().name << " " << exhaustive.best().prediction.step_time_s << " s, "
        << a.simulations() << " of " << exhaustive.simulations;
    EXPECT_EQ(a.explored().front().candidate, b.explored().front().candidate);
    EXPECT_EQ(a.simulations(), b.simulations());
  }
}

TEST(Search, RejectsPlansOverTheLimitAndNamesTheSmallest) {
  ir::Graph g = step_of(kGpt);
  SearchOptions o = small_search();
  o.memory_limit = 1024;
  try {
    search_plan(g, flat_topology(4), o).best();
    FAIL() << "expected no plan to fit";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no plan fits 1 KiB per device: the smallest peak is "), std::string::npos)
        << e.what();
  }
}

// A candidate whose params, state and inputs alone are over the limit is not lowered: its
// bound is over the limit and never above its peak costed in full. The baselines are
// costed in full all the same, and the least peak a search names where nothing fits is the
// least of every candidate costed in full.
TEST(Search, CandidatesOverTheLimitByTheirSourcesAloneAreBoundedNotLowered) {
  ir::Graph g = step_of(kGpt);
  const launcher::Topology t = flat_topology(4);
  SearchOptions options;
  options.memory_limit = std::int64_t{1} << 40;
  Evaluator unlimited(g, t, options);
  size_t least = SIZE_MAX, most = 0;
  for (const Candidate& c : unlimited.space().all()) {
    least = std::min(least, unlimited.evaluate(c).prediction.peak_bytes);
    most = std::max(most, unlimited.evaluate(c).prediction.peak_bytes);
  }
  int over = 0;
  for (const size_t limit : {least / 4, least - 1, (least + most) / 2}) {
    options.memory_limit = static_cast<std::int64_t>(limit);
    Evaluator bounded(g, t, options);
    for (const Candidate& c : bounded.space().all()) {
      const Evaluated e = bounded.evaluate(c);
      if (!e.over_by_sources) {
        EXPECT_EQ(e.prediction.peak_bytes, unlimited.evaluate(c).prediction.peak_bytes) << e.name;
        continue;
      }
      ++over;
      EXPECT_FALSE(e.fits) << e.name;
      EXPECT_GT(e.prediction.peak_bytes, limit) << e.name;
      EXPECT_LE(e.prediction.peak_bytes, unlimited.evaluate(c).prediction.peak_bytes) << e.name;
      const Evaluated full = bounded.evaluate(c, true);
      EXPECT_FALSE(full.over_by_sources);
      EXPECT_EQ(full.prediction.peak_bytes, unlimited.evaluate(c).prediction.peak_bytes) << e.name;
    }
  }
  EXPECT_GT(over, 0);
  SearchOptions o = small_search();
  o.memory_limit = static_cast<std::int64_t>(least) - 1;
  SearchResult r = search_plan(g, t, o);
  for (const Evaluated& b : r.baselines) EXPECT_FALSE(b.over_by_sources) << b.name;
  ASSERT_FALSE(r.explored.front().over_by_sources);
  EXPECT_EQ(r.explored.front().prediction.peak_bytes, least);
  EXPECT_THROW(r.best(), Error);
}

TEST(Search, BaselinesAreCostedAlongside) {
  ir::Graph g = step_of(kGpt);
  SearchResult r = search_plan(g, flat_topology(4), small_search());
  std::vector<std::string> names;
  for (const Evaluated& b : r.baselines) names.push_back(b.name);
  EXPECT_EQ(names, (std::vector<std::string>{"dp", "dp+megatron model=2", "megatron", "zero"}));
  for (const Evaluated& b : r.baselines) EXPECT_GE(b.prediction.step_time_s, r.best().prediction.step_time_s);
}

// The winner and the baselines are costed as a job runs them (tuning.h): the winner's
// prediction is tune_schedule's for its plan, and no faster than the plan as lowered.
TEST(Search, TheWinnerIsCostedWithTheScheduleAJobChooses) {
  ir::Graph g = step_of(kGpt);
  const launcher::Topology t = dgx2(1);
  SearchResult r = search_plan(g, t, small_search());
  const Evaluated& best = r.best();
  ASSERT_TRUE(best.schedule.has_value());
  for (const Evaluated& b : r.baselines) EXPECT_EQ(b.schedule.has_value(), b.fits) << b.name;
  Plan plan = best.plan;
  EXPECT_EQ(plan.schedule, best.schedule) << "the plan carries the schedule it was costed with";
  ASSERT_TRUE(plan.predicted.has_value());
  EXPECT_DOUBLE_EQ(plan.predicted->step_time_s, best.prediction.step_time_s);
  CollectiveCosts costs(plan.mesh, t);
  const DeviceModel device = device_model(t);
  const TunedProgram job = tune_schedule(lower_ops(g, plan), plan.rematerialize, device, costs, r.memory_limit);
  EXPECT_EQ(job.schedule, *best.schedule);
  const TunedProgram planned = tune_schedule(lower_ops(g, plan), plan.rematerialize, device, costs, r.memory_limit,
                                             with_plan_schedule({}, plan));
  EXPECT_EQ(planned.schedule, *plan.schedule);
  EXPECT_DOUBLE_EQ(planned.prediction.step_time_s, best.prediction.step_time_s) << "running the plan's schedule";
  EXPECT_DOUBLE_EQ(job.prediction.step_time_s, best.prediction.step_time_s);
  EXPECT_LE(best.prediction.step_time_s, simulate(lower(g, plan), device, costs).step_time_s);
}

// A schedule hides communication, never compute: every candidate left as lowered has
// compute alone no faster than the winner's step, so no tuning could have made it win;
// and no more are tuned than `tuned_at_most` (besides the baselines).
TEST(Search, EveryCandidateThatCouldWinIsTuned) {
  ir::Graph g = step_of(kGpt);
  SearchOptions o = small_search();
  o.tuned = 1;
  o.tuned_at_most = 1000;
  const SearchResult r = search_plan(g, dgx2(1), o);
  int tuned = 0;
  for (const Evaluated& e : r.explored) {
    tuned += e.schedule.has_value();
    if (e.fits && !e.schedule) {
      EXPECT_GE(e.prediction.compute_s, r.best().prediction.step_time_s) << e.name;
    }
  }
  EXPECT_GT(tuned, 1) << "beyond the one asked for, those that could still win";
  o.tuned_at_most = 3;
  const SearchResult capped = search_plan(g, dgx2(1), o);
  int capped_tuned = 0;
  for (const Evaluated& e : capped.explored) capped_tuned += e.schedule.has_value();
  EXPECT_LE(capped_tuned, o.tuned_at_most + static_cast<int>(capped.baselines.size()));
  EXPECT_LE(r.best().prediction.step_time_s, capped.best().prediction.step_time_s);
}

TEST(Plan, JsonKeepsThePredictionAndTheAxisLevels) {
  ir::Graph g = step_of(kGpt);
  launcher::Topology t = dgx2(1);
  Plan plan = apply_tactics(g, builtin_strategy("dp+megatron", g, 16));
  Prediction p = predict_plan(plan, lower(g, plan), t, device_model(t));
  plan.schedule = PlanSchedule{8, 1 << 20, false};
  Plan back = plan_from_json(to_json(plan, g), g);
  EXPECT_EQ(back.schedule, plan.schedule);
  ASSERT_TRUE(back.predicted.has_value());
  EXPECT_EQ(back.predicted->peak_bytes, p.peak_bytes);
  EXPECT_DOUBLE_EQ(back.predicted->step_time_s, p.step_time_s);
  EXPECT_EQ(back.axis_levels, plan.axis_levels);
  EXPECT_EQ(back.axis_levels.size(), 2u);
  nlohmann::ordered_json bad = to_json(plan, g);
  bad["schedule"]["prefetch"] = -2;
  EXPECT_THROW(plan_from_json(bad, g), Error);
  bad["schedule"] = {{"prefetch", 1}, {"bucket_bytes", 0}, {"depth", 3}};
  EXPECT_THROW(plan_from_json(bad, g), Error);
  bad["schedule"] = {{"prefetch", 1}, {"bucket_bytes", 0}, {"overlap", "yes"}};
  EXPECT_THROW(plan_from_json(bad, g), Error);
  bad["schedule"] = {{"prefetch", 1}, {"bucket_bytes", 0}};  // written before overlap was chosen
  EXPECT_TRUE(plan_from_json(bad, g).schedule->overlap);
}

}  // namespace
}  // namespace spmd::partitioner
