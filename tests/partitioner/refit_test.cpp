// Refitting the cost model to measured launches: the weighted least squares recovers a line,
// falls back to a scale alone where the offset would be negative, averages ranks' fits by
// their launches; and the refitted device and links predict exactly the fitted times.
#include <gtest/gtest.h>

#include "ir/autodiff.h"
#include "ir/models/zoo.h"
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

TEST(Refit, ANegativeOffsetOrNoOffsetGivesTheLineThroughTheOrigin) {
  const TimeFit negative = fit_times(on_line(2.0, -5e-7));
  EXPECT_EQ(negative.offset_s, 0);
  EXPECT_GT(negative.scale, 1.5);
  EXPECT_GT(negative.error, 0);
  const TimeFit scale_only = fit_times(on_line(4.0, 3e-6), false);
  EXPECT_EQ(scale_only.offset_s, 0);
  EXPECT_GT(scale_only.scale, 4.0);  // the offset is taken up by the scale
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

TEST(Refit, TheRefittedModelPredictsTheFittedTimes) {
  const ir::Graph g = ir::training_step(ir::build_model("mlp:layers=2,hidden=16,batch=8,features=8,classes=4"), {});
  const launcher::Topology t = flat_topology(4);
  DeviceModel device = device_model(t);
  device.op_latency_s = 2e-6;
  DeviceOverrides asked;
  asked.memory_bytes = 1 << 30;
  const TimeFit kernels{3.0, 5e-6, 0, 10}, collectives{2.0, 0, 0, 10};
  const Refitted r = refit(t, device, asked, kernels, collectives);
  const DeviceModel refitted = device_model(r.topology, r.device);
  EXPECT_EQ(refitted.memory_bytes, 1 << 30);  // the user's figures stay
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const double before = op_seconds(g, v, device);
    if (before > 0) {
      EXPECT_NEAR(op_seconds(g, v, refitted), 3.0 * before + 5e-6, 1e-9 * before + 1e-15) << v;
    }
  }
  ASSERT_EQ(r.topology.levels().size(), t.levels().size());
  for (size_t l = 0; l < t.levels().size(); ++l) {
    EXPECT_NEAR(r.topology.levels()[l].link.transfer_seconds(1e6), 2.0 * t.levels()[l].link.transfer_seconds(1e6),
                1e-15);
  }
  EXPECT_NE(r.said.find("kernels 3.00x + 5.0 us"), std::string::npos) << r.said;
  EXPECT_NE(r.said.find("collectives 2.00x"), std::string::npos) << r.said;
}

}  // namespace
}  // namespace spmd::partitioner
