// A plan's samples for re-planning (runtime/replan.h's PlanSamples): one point a node, its
// median over the timed steps, paired with its prediction, kernels and collectives apart.
#include <gtest/gtest.h>

#include "ir/models/zoo.h"
#include "ir/ops.h"
#include "partitioner/device_model.h"
#include "partitioner/search.h"
#include "runtime/replan.h"

namespace spmd::runtime {
namespace {

// The first two kernels of a small mlp's step, each predicted at 10 us.
struct TwoKernels {
  ir::Graph g = ir::build_model("mlp:batch=4,features=8,hidden=16,classes=4,layers=1");
  std::vector<ir::ValueId> kernels;
  TwoKernels() {
    for (ir::ValueId v = 0; v < g.size() && kernels.size() < 2; ++v) {
      if (ir::op_traits(g.node(v).op).needs_kernel()) kernels.push_back(v);
    }
  }
  std::vector<PredictedLaunch> predicted() const {
    return {{kernels[0], Stream::compute, 0, 1e-5}, {kernels[1], Stream::compute, 1e-5, 1e-5}};
  }
};

std::vector<partitioner::TimedLaunch> all_kernels(const PlanSamples& s) {
  std::vector<partitioner::TimedLaunch> all = s.compute_kernels();
  for (const partitioner::TimedLaunch& l : s.memory_kernels()) all.push_back(l);
  return all;
}

// Three steps, the second slowed fivefold by a burst: each kernel is one point at its
// median, 12 us, not three of which one is 60 us; the step's median is the middle step.
TEST(PlanSamples, EachNodeIsOnePointAtItsMedianOverTheSteps) {
  const TwoKernels k;
  PlanSamples s(k.g, k.predicted(), partitioner::device_model(partitioner::flat_topology(1)));
  for (double slow : {1.0, 5.0, 1.0}) {
    s.add({{k.kernels[0], 0, 12e-6 * slow}, {k.kernels[1], 0, 12e-6 * slow}}, 30e-6 * slow);
  }
  const std::vector<partitioner::TimedLaunch> points = all_kernels(s);
  ASSERT_EQ(points.size(), 2u);
  for (const partitioner::TimedLaunch& p : points) {
    EXPECT_DOUBLE_EQ(p.predicted_s, 1e-5);
    EXPECT_DOUBLE_EQ(p.measured_s, 12e-6);
  }
  EXPECT_DOUBLE_EQ(s.median_step_s(), 30e-6);
  EXPECT_TRUE(s.collectives().empty());
}

// A node launched twice in a step counts their sum, as its prediction sums its launches.
TEST(PlanSamples, ANodesLaunchesInAStepAreSummed) {
  const TwoKernels k;
  PlanSamples s(k.g, {{k.kernels[0], Stream::compute, 0, 1e-5}, {k.kernels[0], Stream::compute, 1e-5, 1e-5}},
                partitioner::device_model(partitioner::flat_topology(1)));
  s.add({{k.kernels[0], 0, 7e-6}, {k.kernels[0], 1e-5, 1.8e-5}}, 2e-5);
  const std::vector<partitioner::TimedLaunch> points = all_kernels(s);
  ASSERT_EQ(points.size(), 1u);
  EXPECT_DOUBLE_EQ(points[0].predicted_s, 2e-5);
  EXPECT_DOUBLE_EQ(points[0].measured_s, 1.5e-5);
}

}  // namespace
}  // namespace spmd::runtime
