// The CPU optimizer updates against the reference.
#include <gtest/gtest.h>

#include "tests/kernels/harness.h"

namespace spmd::kernels::testing {
namespace {

const std::vector<ir::Shape> kShapes = {{7, 13}, {129}, {1}, {256, 257}};

TEST(CpuOptimizer, MovingAveragesMatchReference) {
  std::mt19937 rng(51);
  for (const char* op : {"ema", "ema_sq"}) {
    for (const ir::Shape& shape : kShapes) {
      std::vector<HostTensor> in{uniform(rng, shape), uniform(rng, shape)};
      const auto node = make_node(op, in, attrs({{"decay", 0.9}, {"gain", 0.1}}));
      EXPECT_TRUE(cpu_matches_reference(node, in));
    }
  }
}

TEST(CpuOptimizer, SgdStepMatchesReference) {
  std::mt19937 rng(52);
  for (const ir::Shape& shape : kShapes) {
    std::vector<HostTensor> in{uniform(rng, shape), uniform(rng, shape), scalar(0.05f)};
    EXPECT_TRUE(cpu_matches_reference(make_node("sgd", in), in));
  }
}

TEST(CpuOptimizer, AdamwStepMatchesReferenceAtEarlyAndLateSteps) {
  std::mt19937 rng(53);
  const ir::Attrs a =
      attrs({{"beta1", 0.9}, {"beta2", 0.999}, {"eps", 1e-8}, {"weight_decay", 0.01}});
  for (const ir::Shape& shape : kShapes) {
    for (float step : {1.f, 3.f, 1000.f}) {
      std::vector<HostTensor> in{uniform(rng, shape), uniform(rng, shape, -0.1f, 0.1f),
                                 uniform(rng, shape, 1e-4f, 1e-2f), scalar(1e-3f), scalar(step)};
      EXPECT_TRUE(cpu_matches_reference(make_node("adamw", in, a), in)) << "step " << step;
    }
  }
}

}  // namespace
}  // namespace spmd::kernels::testing
