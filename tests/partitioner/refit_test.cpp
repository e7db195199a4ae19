// Refitting the cost model to measured launches: the weighted least squares recovers a line,
// falls back to a scale alone where the offset would be negative, averages ranks' fits by
// their launches; and the refitted device and links predict exactly the fitted times.
#include <gtest/gtest.h>

#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "ir/ops.h"
#include "partitioner/cost_model.h"
#include "partitioner/refit.h"
#include "partitioner/search.h"

namespace spmd::partitioner {
namespace {

std::vector<TimedLaunch> on_line(double scale, double offset) {
  std::vector<TimedLaunch> launches;
  for (double p = 1e-6; p < 1e-2; p *= 3) launches.push_back({p, scale * p + offset});
  return launches;
}

TEST(Refit, TheFitRecoversTheLineTheLaunchesLieOn) {
  const TimeFit f = fit_times(on_line(2.5, 3e-6));
  EXPECT_NEAR(f.scale, 2.5, 1e-9);
  EXPECT_NEAR(f.offset_s, 3e-6, 1e-12);
  EXPECT_LT(f.error, 1e-9);
  EXPECT_EQ(f.launches, static_cast<int>(on_line(1, 0).size()));
}

TEST(Refit, ANegativeOffsetThatKeepsEveryLaunchAboveZeroStands) {
  const TimeFit negative = fit_times(on_line(2.0, -5e-7));  // the smallest launch: 2 us - 0.5 us
  EXPECT_NEAR(negative.scale, 2.0, 1e-9);
  EXPECT_NEAR(negative.offset_s, -5e-7, 1e-12);
  EXPECT_LT(negative.error, 1e-9);
}

// Many small launches at half their prediction and a few large ones as predicted: a line
// through the origin, the offset held at zero, would take the small ones' half for all.
TEST(Refit, SmallLaunchesUnderTheirPredictionTakeTheOffsetNotTheScale) {
  std::vector<TimedLaunch> launches;
  for (int i = 0; i < 60; ++i) launches.push_back({4e-7, 2e-7});
  for (int i = 0; i < 4; ++i) launches.push_back({26e-6, 26e-6});
  const TimeFit f = fit_times(launches);
  EXPECT_NEAR(f.scale, 1.0, 0.02);
  EXPECT_LT(f.offset_s, 0);
}

TEST(Refit, AnOffsetThatWouldMakeALaunchFreeOrNoOffsetGivesTheLineThroughTheOrigin) {
  // The line through the two launches that weigh most (their measured times the least)
  // crosses zero above the smallest prediction, 1 us.
  const std::vector<TimedLaunch> launches = {{1e-6, 1e-3}, {2e-6, 1e-8}, {3e-6, 1e-6}};
  const TimeFit crossing = fit_times(launches);
  EXPECT_EQ(crossing.offset_s, 0);
  EXPECT_GT(crossing.error, 0);
  const TimeFit scale_only = fit_times(on_line(4.0, 3e-6), false);
  EXPECT_EQ(scale_only.offset_s, 0);
  EXPECT_GT(scale_only.scale, 4.0);  // the offset is taken up by the scale
}

// A negative offset takes from every kernel's fixed cost, down to a tenth of it.
TEST(Refit, ANegativeOffsetLeavesEachKernelATenthOfItsFixedCost) {
  const launcher::Topology t = flat_topology(2);
  DeviceModel device = device_model(t);
  device.op_latency_s = 2e-6;
  const TimeFit kernels{1.0, -1e-6, 0, 10};
  const Refitted lower = refit(t, device, {}, {kernels, kernels}, {});
  EXPECT_DOUBLE_EQ(lower.device.op_latency_s, 1e-6);
  const TimeFit more{1.0, -5e-6, 0, 10};
  const Refitted floor = refit(t, device, {}, {more, more}, {});
  EXPECT_DOUBLE_EQ(floor.device.op_latency_s, 2e-7);
  EXPECT_NE(floor.said.find("1.00x - 5.0 us"), std::string::npos) << floor.said;
}

TEST(Refit, NothingMeasuredLeavesTheModelAsItWas) {
  const TimeFit none = fit_times({});
  EXPECT_EQ(none.scale, 1);
  EXPECT_EQ(none.offset_s, 0);
  EXPECT_EQ(none.launches, 0);
  const std::vector<TimedLaunch> free_launches = {{0, 1e-6}, {0, 2e-6}};  // predicted to cost nothing
  EXPECT_EQ(fit_times(free_launches).launches, 0);
}

TEST(Refit, RanksFitsAreAveragedByTheirLaunches) {
  const std::vector<TimeFit> fits = {{1.0, 0, 0.1, 1}, {4.0, 4e-6, 0.4, 3}, {}};
  const TimeFit mean = mean_fit(fits);
  EXPECT_DOUBLE_EQ(mean.scale, (1.0 + 3 * 4.0) / 4);
  EXPECT_DOUBLE_EQ(mean.offset_s, 3 * 4e-6 / 4);
  EXPECT_EQ(mean.launches, 4);
}

// (Matmuls of 128 and 64 are compute-bound on the default CPU's roofline, its elementwise
// ops memory-bound.) Compute-bound kernels measured 3x their prediction and memory-bound ones 1.5x, each plus
// 5 us: the refitted model's peak FLOP/s carries the first, its bandwidth the second, and
// every kernel is predicted as its class's line says (memory-bound ones on the measured
// curve by size, which the fit scales as a whole).
TEST(Refit, TheRefittedModelPredictsEachClassOfKernelAsFitted) {
  const ir::Graph g = ir::training_step(ir::build_model("mlp:layers=2,hidden=128,batch=64,features=8,classes=4"), {});
  const launcher::Topology t = flat_topology(4);
  DeviceModel device = device_model(t);
  device.op_latency_s = 2e-6;
  device.op_latency_by_op.assign(ir::all_ops().size(), 0.0);
  device.op_latency_by_op[ir::op_index("relu")] = 0.5e-6;  // an op's own fixed cost: on the same line
  device.bytes_by_size = {{1e4, 2 * device.memory_Bps}, {1e8, device.memory_Bps}};
  DeviceOverrides asked;
  asked.memory_bytes = 1 << 30;
  asked.turns_by_stretch = {{1e-5, 0.5}};  // held by the measured times the fit follows: not charged again
  asked.collective_cold_s = {{4096, 1e-5}};  // held by the collectives' times fitted: scaled with them
  const KernelFits kernels{{3.0, 5e-6, 0, 10}, {1.5, 5e-6, 0, 10}};
  const TimeFit collectives{2.0, 0, 0, 10};
  const Refitted r = refit(t, device, asked, kernels, collectives);
  const DeviceModel refitted = device_model(r.topology, r.device);
  EXPECT_EQ(refitted.memory_bytes, 1 << 30);  // the user's figures stay
  EXPECT_EQ(refitted.turn_seconds(1e-5), 0.0);
  EXPECT_DOUBLE_EQ(refitted.peak_flops, device.peak_flops / 3.0);
  EXPECT_DOUBLE_EQ(refitted.memory_Bps, device.memory_Bps / 1.5);
  int compute = 0, memory = 0;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const double before = op_seconds(g, v, device);
    if (!(before > 0)) continue;
    const double fixed = device.op_latency(ir::op_index(g.node(v).op));
    const double latency = 2.25 * fixed + 5e-6;  // the classes' mean line
    const double work = before - fixed;
    const bool compute_class = compute_bound(g, v, device);
    (compute_class ? compute : memory)++;
    if (compute_class) {  // 3x its flops term, which stays the larger
      EXPECT_NEAR(op_seconds(g, v, refitted), latency + 3.0 * work, 1e-9 * before) << v;
    } else {  // 1.5x its bytes term, unless 3x the flops term now passes it
      const double flops_s = op_flops(g, v) / device.peak_flops;
      EXPECT_NEAR(op_seconds(g, v, refitted), latency + std::max(1.5 * work, 3.0 * flops_s), 1e-9 * before) << v;
    }
  }
  EXPECT_GT(compute, 0);
  EXPECT_GT(memory, 0);
  ASSERT_EQ(r.topology.levels().size(), t.levels().size());
  for (size_t l = 0; l < t.levels().size(); ++l) {
    EXPECT_NEAR(r.topology.levels()[l].link.transfer_seconds(1e6), 2.0 * t.levels()[l].link.transfer_seconds(1e6),
                1e-15);
  }
  ASSERT_EQ(r.device.collective_cold_s.size(), 1u);
  EXPECT_DOUBLE_EQ(r.device.collective_cold_s[0].second, 2e-5);
  EXPECT_NE(r.said.find("compute-bound kernels 3.00x + 5.0 us"), std::string::npos) << r.said;
  EXPECT_NE(r.said.find("memory-bound kernels 1.50x + 5.0 us"), std::string::npos) << r.said;
  EXPECT_NE(r.said.find("collectives 2.00x"), std::string::npos) << r.said;
}

// Measured matmul rates by shape scale with the compute-bound class, as the peak does.
TEST(Refit, MeasuredMatmulRatesByShapeScaleWithTheComputeBoundClass) {
  const launcher::Topology t = flat_topology(2);
  DeviceModel device = device_model(t);
  device.flops_by_shape = GemmRates({{16, 16, 16, 1e9}, {16, 16, 1024, 4e9}});
  const Refitted r = refit(t, device, {}, {{2.0, 0, 0, 10}, {4.0, 0, 0, 10}}, {});
  const DeviceModel refitted = device_model(r.topology, r.device);
  EXPECT_DOUBLE_EQ(refitted.flops_by_shape.rate(16, 16, 128), device.flops_by_shape.rate(16, 16, 128) / 2);
}

}  // namespace
}  // namespace spmd::partitioner
