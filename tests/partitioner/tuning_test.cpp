// The schedule a lowered plan runs with (tuning.h): the choices asked are kept, the cost
// model's are never slower than the program as lowered and stay within the memory limit.
#include <gtest/gtest.h>

#include "partitioner/search.h"
#include "partitioner/simulator.h"
#include "partitioner/tuning.h"
#include "tests/partitioner/small_gpt.h"

namespace spmd::partitioner {
namespace {

// The mesh's devices on links where each message costs `latency_s` (the costs keep a
// reference to the topology, so all three live together).
struct Costed {
  Costed(const Mesh& mesh, double latency_s)
      : topology(flat_topology(mesh.size())
                     .with_links(std::vector<launcher::LinkModel>(flat_topology(mesh.size()).levels().size(),
                                                                  {latency_s, 1e9}))),
        costs(mesh, topology),
        device(device_model(topology)) {}
  launcher::Topology topology;
  CollectiveCosts costs;
  DeviceModel device;
};

bool has_buckets(const Program& p) {
  for (const ir::Node& n : p.graph.nodes) {
    if (n.attrs.has("bucket")) return true;
  }
  return false;
}

TEST(TuneSchedule, KeepsTheChoicesAskedFor) {
  const ir::Graph g = small_gpt_step();
  const Plan plan = strategy_plan(g, "zero", 4);
  Costed c(plan.mesh, 1e-5);
  const TunedProgram t = tune_schedule(lower_ops(g, plan), false, c.device, c.costs, 0, {4, 1 << 20});
  EXPECT_EQ(t.schedule.prefetch, 4);
  EXPECT_EQ(t.schedule.bucket_bytes, 1 << 20);
  EXPECT_TRUE(t.gathers_params);
  EXPECT_TRUE(has_buckets(t.program));
  const TunedProgram none = tune_schedule(lower_ops(g, plan), false, c.device, c.costs, 0, {0, 0});
  EXPECT_EQ(none.schedule.prefetch, 0);
  EXPECT_FALSE(has_buckets(none.program));
  EXPECT_EQ(none.program.graph, finish_lowering(lower_ops(g, plan), false, 0).graph);
}

TEST(TuneSchedule, TheCostModelsChoiceIsNeverSlowerThanAsLoweredAndFitsTheLimit) {
  const ir::Graph g = small_gpt_step();
  for (const char* strategy : {"dp", "zero", "dp+megatron"}) {
    const Plan plan = strategy_plan(g, strategy, 4);
    Costed c(plan.mesh, 1e-3);  // costly messages: buckets and deeper gathers pay
    const Prediction lowered = simulate(lower(g, plan), c.device, c.costs);
    const TunedProgram t = tune_schedule(lower_ops(g, plan), false, c.device, c.costs, 0);
    EXPECT_LE(t.prediction.step_time_s, lowered.step_time_s) << strategy;
    EXPECT_DOUBLE_EQ(t.prediction.step_time_s, simulate(t.program, c.device, c.costs, t.schedule.overlap).step_time_s)
        << strategy;
    if (std::string(strategy) != "dp+megatron") {
      EXPECT_LT(t.prediction.step_time_s, lowered.step_time_s) << strategy << ": buckets gain here";
      EXPECT_GT(t.schedule.bucket_bytes, 0) << strategy;
    }
    const auto limit = static_cast<std::int64_t>(lowered.peak_bytes);
    const TunedProgram within = tune_schedule(lower_ops(g, plan), false, c.device, c.costs, limit);
    EXPECT_LE(within.prediction.peak_bytes, lowered.peak_bytes) << strategy;
  }
}

// A plan's schedule fills what was left to the cost model, never what was asked for, and
// gives its bucket size only to collectives run as the plan's were.
TEST(TuneSchedule, APlansScheduleFillsWhatWasNotAskedFor) {
  Plan plan;
  EXPECT_EQ(with_plan_schedule({}, plan).prefetch, -1) << "no schedule: the cost model chooses";
  plan.schedule = PlanSchedule{4, 1 << 20};
  const ScheduleChoice filled = with_plan_schedule({}, plan);
  EXPECT_EQ(filled.prefetch, 4);
  EXPECT_EQ(filled.bucket_bytes, 1 << 20);
  const ScheduleChoice kept = with_plan_schedule({0, 0}, plan);
  EXPECT_EQ(kept.prefetch, 0);
  EXPECT_EQ(kept.bucket_bytes, 0);
  EXPECT_EQ(filled.overlap, 1);
  ScheduleChoice blocking;
  blocking.overlap = 0;
  EXPECT_LT(with_plan_schedule(blocking, plan).bucket_bytes, 0);
  plan.schedule->overlap = false;
  EXPECT_EQ(with_plan_schedule({}, plan).overlap, 0);
  EXPECT_EQ(with_plan_schedule(blocking, plan).bucket_bytes, 1 << 20);
}

// Blocking collectives still fuse: a bucket pays one latency for all its members.
TEST(TuneSchedule, BlockingCollectivesGetABucketSizeOfTheirOwn) {
  const ir::Graph g = small_gpt_step();
  const Plan plan = strategy_plan(g, "dp", 4);
  Costed c(plan.mesh, 1e-3);
  ScheduleChoice blocking;
  blocking.overlap = 0;
  const TunedProgram t = tune_schedule(lower_ops(g, plan), false, c.device, c.costs, 0, blocking);
  EXPECT_FALSE(t.schedule.overlap);
  EXPECT_GT(t.schedule.bucket_bytes, 0);
  EXPECT_TRUE(has_buckets(t.program));
  EXPECT_FALSE(t.gathers_params) << "data parallelism gathers no param";
  EXPECT_DOUBLE_EQ(t.prediction.step_time_s, simulate(t.program, c.device, c.costs, false).step_time_s);
  const TunedProgram unfused = tune_schedule(lower_ops(g, plan), false, c.device, c.costs, 0, {-1, 0, 0});
  EXPECT_FALSE(has_buckets(unfused.program));
  EXPECT_LT(t.prediction.step_time_s, unfused.prediction.step_time_s);
}

// Where the communication thread shares the main thread's core it overlaps nothing and
// every collective pays the hand-off: the cost model blocks. With a core of its own and a
// cheap hand-off, overlapping hides the gradients' all-reduces behind the backward pass.
TEST(TuneSchedule, TheCostModelBlocksWhereTheCommunicationThreadSharesTheCore) {
  const ir::Graph g = small_gpt_step();
  for (const char* strategy : {"dp", "zero"}) {
    const Plan plan = strategy_plan(g, strategy, 2);
    Costed c(plan.mesh, 1e-5);
    c.device.handoff_s = 10e-6;
    c.device.comm_shares_core = true;
    const TunedProgram shared = tune_schedule(lower_ops(g, plan), false, c.device, c.costs, 0);
    EXPECT_FALSE(shared.schedule.overlap) << strategy;
    ScheduleChoice overlapping;
    overlapping.overlap = 1;
    const TunedProgram asked = tune_schedule(lower_ops(g, plan), false, c.device, c.costs, 0, overlapping);
    EXPECT_TRUE(asked.schedule.overlap) << strategy;
    EXPECT_LT(shared.prediction.step_time_s, asked.prediction.step_time_s) << strategy;
    c.device.comm_shares_core = false;
    c.device.handoff_s = 1e-6;
    const TunedProgram own = tune_schedule(lower_ops(g, plan), false, c.device, c.costs, 0);
    EXPECT_TRUE(own.schedule.overlap) << strategy;
  }
}

}  // namespace
}  // namespace spmd::partitioner
