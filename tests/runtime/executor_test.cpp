// The executor computes what the reference computes, step after step, deterministically.
#include <gtest/gtest.h>

#include <cstring>

#include "common/error.h"
#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "ir/text.h"
#include "kernels/backend.h"
#include "runtime/trainer.h"

namespace spmd::runtime {
namespace {

const char* kTinyGpt = "gpt:layers=2,d_model=16,heads=2,seq=8,vocab=32,batch=2";

std::vector<double> losses(const ir::Graph& g, kernels::Backend& backend, int steps, uint64_t seed = 3) {
  Trainer t(g, backend, seed);
  std::vector<double> out;
  for (int i = 0; i < steps; ++i) out.push_back(t.step().loss);
  return out;
}

TEST(Executor, CpuBackendTrainsAsTheReferenceDoes) {
  for (const char* model : {kTinyGpt, "mlp:layers=2,hidden=16,batch=8,features=5,classes=3"}) {
    ir::Graph g = ir::training_step(ir::build_model(model), {});
    auto cpu = kernels::make_cpu_backend();
    auto ref = kernels::make_reference_backend();
    std::vector<double> a = losses(g, *cpu, 4), b = losses(g, *ref, 4);
    for (size_t i = 0; i < a.size(); ++i) {
      // f32 kernels against float64 accumulation: agreement to ~1e-5 relative over 4 steps.
      EXPECT_NEAR(a[i], b[i], 1e-4 * std::abs(b[i])) << model << " step " << i + 1;
    }
  }
}

TEST(Executor, SameSeedGivesBitIdenticalLosses) {
  ir::Graph g = ir::training_step(ir::build_model(kTinyGpt), {});
  auto cpu = kernels::make_cpu_backend();
  std::vector<double> a = losses(g, *cpu, 5), b = losses(g, *cpu, 5);
  EXPECT_EQ(a, b);
  EXPECT_NE(losses(g, *cpu, 1, 4), losses(g, *cpu, 1, 3));
}

TEST(Executor, GraphReadBackFromTextTrainsIdentically) {
  ir::Graph g = ir::training_step(ir::build_model(kTinyGpt), {});
  auto cpu = kernels::make_cpu_backend();
  EXPECT_EQ(losses(g, *cpu, 3), losses(ir::parse(ir::print(g)), *cpu, 3));
}

TEST(Executor, UpdatesParamsInPlaceAndPlansLessThanNaive) {
  ir::Graph g = ir::training_step(ir::build_model(kTinyGpt), {});
  auto cpu = kernels::make_cpu_backend();
  Trainer t(g, *cpu, 0);
  ir::ValueId w = *g.find("layer0.mlp.w_in");
  kernels::TensorRef before = t.executor().value(w);
  std::vector<float> initial(before.f32(), before.f32() + before.numel());
  t.step();
  kernels::TensorRef after = t.executor().value(w);
  EXPECT_EQ(after.data, before.data);
  EXPECT_NE(std::memcmp(initial.data(), after.f32(), initial.size() * 4), 0);
  EXPECT_LT(t.executor().memory_plan().arena_bytes, t.executor().memory_plan().naive_bytes);
  EXPECT_EQ(t.executor().peak_bytes(), t.executor().persistent_bytes() + t.executor().memory_plan().arena_bytes);
}

TEST(Executor, SgdWithMomentumTrainsToo) {
  ir::Optimizer sgd;
  sgd.kind = "sgd";
  sgd.lr = 0.1;
  ir::Graph g = ir::training_step(ir::build_model("mlp:layers=1,hidden=32,batch=32,features=4,classes=2"), sgd);
  auto cpu = kernels::make_cpu_backend();
  std::vector<double> l = losses(g, *cpu, 30);
  EXPECT_LT(l.back(), l.front());
}

// The reference backend without one op, counting the kernels it runs.
class BackendWithout final : public kernels::Backend {
 public:
  explicit BackendWithout(std::string missing) : missing_(std::move(missing)) {}
  std::string_view name() const override { return "partial"; }
  bool supports(std::string_view op, std::span<const ir::TensorType> types) const override {
    return op != missing_ && inner_->supports(op, types);
  }
  void run(const ir::Node& node, std::span<const kernels::TensorRef> in, const kernels::TensorRef& out) override {
    ++runs;
    inner_->run(node, in, out);
  }
  int runs = 0;

 private:
  std::string missing_;
  std::unique_ptr<kernels::Backend> inner_ = kernels::make_reference_backend();
};

TEST(Executor, RefusesABackendWithoutAKernelBeforeRunningAny) {
  ir::Graph g = ir::training_step(ir::build_model("mlp:layers=1,hidden=8,batch=4,features=3,classes=2"), {});
  BackendWithout backend("relu");
  try {
    Executor e(g, backend, 0);
    FAIL() << "the executor was built";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the partial backend has no kernel for op 'relu' on f32[4,8]"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(backend.runs, 0);
  BackendWithout complete("none");
  Executor e(g, complete, 0);
  e.step();
  EXPECT_GT(complete.runs, 0);
}

}  // namespace
}  // namespace spmd::runtime
