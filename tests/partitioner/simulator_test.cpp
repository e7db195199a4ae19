// The simulator: a step bounded by its streams, overlap hiding part of data parallelism's
// communication, ZeRO's updates and buckets, the communication thread and its hand-offs,
// ranks that share PUs taking turns, and collectives waiting for the slowest rank.
#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "ir/ops.h"
#include "partitioner/bucket.h"
#include "partitioner/cost_model.h"
#include "partitioner/placement.h"
#include "partitioner/schedule.h"
#include "partitioner/search.h"
#include "partitioner/tactics.h"
#include "tests/partitioner/search_fixtures.h"

namespace spmd::partitioner {
namespace {

using test::kTinyGpt;
using test::step_of;

TEST(Simulator, StepIsBoundedByItsStreams) {
  ir::Graph g = step_of(kTinyGpt);
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
  ir::Graph g = step_of(kTinyGpt);
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
  ir::Graph g = step_of(kTinyGpt);
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
  ir::Graph g = step_of(kTinyGpt);
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
  ir::Graph g = step_of(kTinyGpt);
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
  ir::Graph g = step_of(kTinyGpt);
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
  ir::Graph g = step_of(kTinyGpt);
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
  ir::Graph g = step_of(kTinyGpt);
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
  ir::Graph g = step_of(kTinyGpt);
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
  ir::Graph g = step_of(kTinyGpt);
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

// A collective between devices takes the cold extra of its size by what the step touched
// since the last collective or since its own data was last touched, whichever is more
// (device_model.h's cache_written_part): ZeRO's gathers of params, back to back, take it
// too, their shards last written by the previous step's update; where the cache holds
// all the step touches, none does. The compute stays as it was.
TEST(Simulator, ACollectiveIsColdByWhatTheStepTouchedSinceItsDataOrTheLastCollective) {
  ir::Graph g = step_of(kTinyGpt);
  launcher::Topology t = flat_topology(4);
  DeviceModel device = device_model(t);
  ASSERT_EQ(device.private_cache_bytes, 0) << "not known: any touch counts whole";
  DeviceModel cold = device;
  cold.collective_cold_s = {{1, 1e-4}};
  Plan plan = apply_tactics(g, builtin_strategy("zero", g, 4));
  Program program = lower(g, plan);
  CollectiveCosts costs(plan.mesh, t);
  std::vector<SimulatedLaunch> launches;
  const Prediction lined_up = simulate(program, device, costs, false, &launches);
  int between_devices = 0, back_to_back = 0;
  bool kernels_since = true;  // the step's tail
  for (const SimulatedLaunch& l : launches) {
    if (!l.communication) {
      kernels_since = true;
      continue;
    }
    for (const CollectiveRecord& r : program.collectives) {
      if (r.at != l.node || !costs.across_devices(r)) continue;
      ++between_devices;
      back_to_back += !kernels_since;
      kernels_since = false;
    }
  }
  ASSERT_GT(back_to_back, 0) << "ZeRO gathers its params back to back";
  const Prediction in_step = simulate(program, cold, costs, false);
  EXPECT_NEAR(in_step.step_time_s, lined_up.step_time_s + between_devices * 1e-4, 1e-9 * in_step.step_time_s);
  EXPECT_NEAR(in_step.comm_s, lined_up.comm_s + between_devices * 1e-4, 1e-9 * in_step.comm_s);
  EXPECT_DOUBLE_EQ(in_step.compute_s, lined_up.compute_s);
  DeviceModel large_cache = cold;
  large_cache.private_cache_bytes = int64_t{1} << 40;  // a quarter of it is more than the step touches
  const Prediction held = simulate(program, large_cache, costs, false);
  EXPECT_NEAR(held.step_time_s, lined_up.step_time_s, 1e-9 * held.step_time_s);
  EXPECT_DOUBLE_EQ(held.compute_s, lined_up.compute_s);
}

// Without overlap, each collective between devices waits for the slowest rank: the fixed
// wait once per collective, the fraction of the compute since the previous one once over
// the step (every op's compute counted once); a program whose collectives stay on one
// device waits for no one.
TEST(Simulator, CollectivesBetweenDevicesWaitForTheSlowestRank) {
  ir::Graph g = step_of(kTinyGpt);
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
  ir::Graph g = step_of(kTinyGpt);
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
  ir::Graph g = step_of(kTinyGpt);
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

}  // namespace
}  // namespace spmd::partitioner
