// The simulator's step as a timeline: the same rule as partitioner::simulate, kept per op.
#include <gtest/gtest.h>

#include <algorithm>

#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "partitioner/search.h"
#include "partitioner/simulator.h"
#include "partitioner/tactics.h"
#include "runtime/predicted_timeline.h"

namespace spmd::runtime {
namespace {

const char* kGpt = "gpt:layers=2,d_model=32,heads=4,seq=8,vocab=16,batch=4";

TEST(PredictedTimeline, EndsWhenTheSimulatorSaysTheStepEnds) {
  ir::Graph g = ir::training_step(ir::build_model(kGpt), {});
  launcher::Topology t = partitioner::flat_topology(4);
  partitioner::DeviceModel device = partitioner::device_model(t);
  for (const char* strategy : {"dp", "megatron", "zero"}) {
    partitioner::Plan plan = partitioner::apply_tactics(g, partitioner::builtin_strategy(strategy, g, 4));
    partitioner::Program program = partitioner::lower(g, plan);
    partitioner::CollectiveCosts costs(plan.mesh, t);
    std::vector<PredictedLaunch> timeline = predicted_timeline(program, device, costs);
    double end = 0, compute = 0, comm = 0;
    size_t collectives = 0;
    for (const PredictedLaunch& l : timeline) {
      end = std::max(end, l.start_s + l.duration_s);
      (l.stream == Stream::compute ? compute : comm) += l.duration_s;
      collectives += l.stream == Stream::communication;
      EXPECT_GE(l.start_s, 0) << strategy;
      EXPECT_GE(l.duration_s, 0) << strategy;
    }
    partitioner::Prediction p = partitioner::simulate(program, plan.mesh, t, device);
    EXPECT_DOUBLE_EQ(end, p.step_time_s) << strategy;
    EXPECT_NEAR(compute, p.compute_s, 1e-12) << strategy;
    EXPECT_NEAR(comm, p.comm_s, 1e-12) << strategy;
    EXPECT_EQ(collectives, program.collectives.size()) << strategy;
  }
}

// Where ranks take turns on shared PUs, the stretch after the last collective loses its
// turns too: the step ends after the last launch, and the step time given says when.
TEST(PredictedTimeline, GivesTheStepTimeWhereTheTurnsAfterTheLastCollectiveEndIt) {
  ir::Graph g = ir::training_step(ir::build_model(kGpt), {});
  launcher::Topology t = partitioner::flat_topology(4);
  partitioner::DeviceModel device = partitioner::device_model(t);
  device.turns_by_stretch = {{1e-9, 0.5}};
  partitioner::Plan plan = partitioner::apply_tactics(g, partitioner::builtin_strategy("dp", g, 4));
  partitioner::Program program = partitioner::lower(g, plan);
  partitioner::CollectiveCosts costs(plan.mesh, t);
  double step_time_s = 0;
  std::vector<PredictedLaunch> timeline = predicted_timeline(program, device, costs, true, &step_time_s);
  double end = 0;
  for (const PredictedLaunch& l : timeline) end = std::max(end, l.start_s + l.duration_s);
  EXPECT_DOUBLE_EQ(step_time_s, partitioner::simulate(program, plan.mesh, t, device).step_time_s);
  EXPECT_GT(step_time_s, end) << "the last stretch's turns, after its last launch";
}

TEST(PredictedTimeline, EachStreamRunsOneLaunchAtATime) {
  ir::Graph g = ir::training_step(ir::build_model(kGpt), {});
  launcher::Topology t = partitioner::flat_topology(2);
  partitioner::Plan plan = partitioner::apply_tactics(g, partitioner::builtin_strategy("dp", g, 2));
  partitioner::CollectiveCosts costs(plan.mesh, t);
  std::vector<PredictedLaunch> timeline = predicted_timeline(partitioner::lower(g, plan), partitioner::device_model(t), costs);
  double free[2] = {0, 0};
  for (const PredictedLaunch& l : timeline) {
    double& at = free[l.stream == Stream::compute ? 0 : 1];
    EXPECT_GE(l.start_s, at - 1e-15);
    at = l.start_s + l.duration_s;
  }
}

}  // namespace
}  // namespace spmd::runtime
