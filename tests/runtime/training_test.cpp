// The zoo's models learn: losses fall on their synthetic tasks.
#include <gtest/gtest.h>

#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "kernels/backend.h"
#include "runtime/trainer.h"

namespace spmd::runtime {
namespace {

TEST(Training, MlpLearnsTheSyntheticTask) {
  ir::Graph g = ir::training_step(ir::build_model("mlp"), {});
  auto cpu = kernels::make_cpu_backend();
  Trainer t(g, *cpu, 0);
  double first = t.step().loss, last = first;
  for (int i = 1; i < 300; ++i) last = t.step().loss;
  EXPECT_LT(last, 0.4 * first) << "first " << first << ", last " << last;
}

TEST(Training, DefaultGptHalvesItsLossWithin300Steps) {
  ir::Graph g = ir::training_step(ir::build_model("gpt"), {});
  auto cpu = kernels::make_cpu_backend();
  Trainer t(g, *cpu, 0);
  double first = t.step().loss, best = first;
  for (int i = 1; i < 300 && best >= 0.5 * first; ++i) best = std::min(best, t.step().loss);
  EXPECT_LT(best, 0.5 * first) << "first " << first;
}

}  // namespace
}  // namespace spmd::runtime
