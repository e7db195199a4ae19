// The property the whole system rests on: a partitioned run computes what the single-device
// run computes. For every built-in strategy whose mesh fits the world, five steps of mlp and
// gpt give the same losses and the same final parameters as one device.
//
// Tolerance 1e-4 relative: the devices sum partial results in another order than one device
// does (f32 rounding, ~1e-7 per operation, compounding over a few hundred ops and 5 Adam
// steps stays far below 1e-4), while any wrong shard, missing collective or misplaced block
// changes results at the 1e-2 level or more. Parameters are compared relative to at least
// 0.1 (an absolute 1e-5 near zero): the key biases have an exactly zero gradient (softmax
// does not see a shift shared by all keys), so they hold only rounding noise of ~1e-6 that
// differs with the order of the sums; trained values are 1e-3 and more.
#include <gtest/gtest.h>

#include <cmath>

#include "collectives/mpi/mpi_communicator.h"
#include "common/error.h"
#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "kernels/backend.h"
#include "partitioner/lower.h"
#include "partitioner/tactics.h"
#include "runtime/trainer.h"

namespace spmd {
namespace {

struct RunResult {
  std::vector<double> losses;
  std::map<std::string, std::vector<float>> params;
};

RunResult train(const ir::Graph& program, collectives::Communicator* world, const ir::Graph& global) {
  auto cpu = kernels::make_cpu_backend();
  runtime::Trainer t(program, *cpu, 11, std::nullopt, world);
  RunResult r;
  for (int i = 0; i < 5; ++i) r.losses.push_back(t.step().loss);
  for (ir::ValueId p : global.nodes_with_op("param")) {
    const std::string& name = global.node(p).name;
    r.params[name] = t.executor().global_value(*t.executor().graph().find(name));
  }
  return r;
}

void expect_close(double a, double b, const std::string& what) {
  EXPECT_LE(std::abs(a - b), 1e-4 * std::max(1.0, std::abs(b))) << what << ": " << a << " vs " << b;
}

void check(const std::string& model, const std::string& strategy) {
  collectives::MpiCommunicator world(MPI_COMM_WORLD);
  ir::Graph g = ir::training_step(ir::build_model(model), {});
  partitioner::Plan plan;
  try {
    plan = partitioner::apply_tactics(g, partitioner::builtin_strategy(strategy, g, world.size()));
  } catch (const Error& e) {
    GTEST_SKIP() << strategy << " does not fit " << model << " on " << world.size() << " ranks: " << e.what();
  }
  partitioner::Program program = partitioner::lower(g, plan);
  RunResult one = train(g, nullptr, g);
  RunResult many = train(program.graph, &world, g);
  std::string where = model + " " + strategy + " on " + std::to_string(world.size()) + " ranks";
  for (size_t i = 0; i < one.losses.size(); ++i) expect_close(many.losses[i], one.losses[i], where + " loss " + std::to_string(i + 1));
  for (const auto& [name, values] : one.params) {
    const auto& got = many.params.at(name);
    ASSERT_EQ(got.size(), values.size()) << where << " " << name;
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < values.size(); ++i) {
      double err = std::abs(got[i] - values[i]) / std::max(0.1, static_cast<double>(std::abs(values[i])));
      if (err > worst) worst = err, at = i;
    }
    EXPECT_LE(worst, 1e-4) << where << ": %" << name << "[" << at << "] = " << got[at] << ", one device has " << values[at];
  }
}

const char* kMlp = "mlp:layers=2,hidden=24,batch=24,features=8,classes=4";
const char* kGpt = "gpt:layers=2,d_model=24,heads=12,seq=8,vocab=32,batch=24";

class SameAsOneDevice : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(SameAsOneDevice, LossesAndFinalParams) { check(std::get<0>(GetParam()), std::get<1>(GetParam())); }

INSTANTIATE_TEST_SUITE_P(BuiltinStrategies, SameAsOneDevice,
                         ::testing::Combine(::testing::Values(kMlp, kGpt),
                                            ::testing::Values("dp", "megatron", "dp+megatron", "zero")),
                         [](const auto& info) {
                           std::string n = std::string(std::get<0>(info.param)).substr(0, 3) + "_" + std::get<1>(info.param);
                           for (char& c : n) {
                             if (c == '+') c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace spmd
