// The device table: the DGX-2's V100s, the user's figures winning, measured CPU rates
// replacing the guess, ranks sharing PUs sharing their speed and paying their turns, and a
// collective after kernels that wrote over a core's cache paying its cold extra.
#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "common/error.h"
#include "partitioner/cost_model.h"
#include "partitioner/placement.h"
#include "partitioner/search.h"
#include "tests/partitioner/search_fixtures.h"

namespace spmd::partitioner {
namespace {

using test::dgx2;
constexpr double kGiB = 1024.0 * 1024 * 1024;

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

}  // namespace
}  // namespace spmd::partitioner
