// A whole training step of a small GPT, run node by node through each backend (CPU, CUDA),
// agrees with the float64 reference on the loss and on every parameter's gradient. This
// exercises every kernel on the shapes and attribute combinations the model zoo and
// autodiff produce.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "kernels/reference/reference.h"
#include "tests/kernels/harness.h"

namespace spmd::kernels::testing {
namespace {

constexpr int32_t kVocab = 13;

// A value for a source node: ids below the vocabulary, the learning rate and step as
// scalars, params near their initialisation, state zero.
HostTensor source_value(std::mt19937& rng, const ir::Node& node) {
  if (node.type.dtype == ir::DType::i32) return ids(rng, node.type.shape, kVocab);
  if (node.op == "state") return HostTensor(node.type);
  if (node.op == "input") return uniform(rng, node.type.shape, 0.1f, 0.1f);
  const std::string init = node.attrs.s("init", "normal");
  const float centre = init == "ones" ? 1.f : 0.f;
  return uniform(rng, node.type.shape, centre - 0.5f, centre + 0.5f);
}

RefTensor widen(const HostTensor& t) {
  RefTensor r{t.type, {}};
  for (int64_t i = 0; i < t.type.numel(); ++i) {
    r.data.push_back(t.type.dtype == ir::DType::f32 ? t.words[i] : t.i32()[i]);
  }
  return r;
}

HostTensor narrow(const RefTensor& r) {
  HostTensor t(r.type);
  for (int64_t i = 0; i < r.type.numel(); ++i) t.words[i] = static_cast<float>(r.data[i]);
  return t;
}

class TrainingStep : public ::testing::TestWithParam<BackendUnderTest> {};

TEST_P(TrainingStep, SmallGptStepAgreesWithReferenceOnLossAndGradients) {
  SPMD_SKIP_IF_UNAVAILABLE(GetParam());
  ir::Optimizer sgd;
  sgd.kind = "sgd";  // its momentum state after one step is exactly the gradient
  const ir::Graph step = ir::training_step(
      ir::build_model("gpt:layers=1,d_model=16,heads=2,seq=8,vocab=13,batch=2"), sgd);

  std::mt19937 rng(81);
  std::map<ir::ValueId, RefTensor> sources;
  std::vector<HostTensor> values;
  auto backend = GetParam().make();
  for (ir::ValueId v = 0; v < step.size(); ++v) {
    const ir::Node& node = step.node(v);
    if (node.is_source() && node.op != "constant") {
      values.push_back(source_value(rng, node));
      sources[v] = widen(values.back());
      continue;
    }
    std::vector<HostTensor> operands;
    for (ir::ValueId in : node.inputs) operands.push_back(values[in]);
    values.push_back(run(*backend, node, operands));
  }
  const std::vector<RefTensor> expected = evaluate_graph(step, sources);

  const ir::ValueId loss = step.output("loss");
  EXPECT_TRUE(all_close(values[loss], narrow(expected[loss]), {1e-5, 1e-6}));
  // Gradients pass through a dozen f32 kernels, so they get a looser bound than one op.
  for (const auto& [state, next] : step.updates) {
    EXPECT_TRUE(all_close(values[next], narrow(expected[next]), {1e-3, 1e-5}))
        << ir::value_label(step, state);
  }
}

// Training goes on: five AdamW steps, each backend's params and state carried from step to
// step as the runtime does, give the reference's losses within 1e-4 relative.
TEST_P(TrainingStep, FiveAdamWStepsGiveTheReferenceLosses) {
  SPMD_SKIP_IF_UNAVAILABLE(GetParam());
  const ir::Graph step = ir::training_step(
      ir::build_model("gpt:layers=1,d_model=16,heads=2,seq=8,vocab=13,batch=2"), ir::Optimizer{});
  std::mt19937 rng(7);
  std::map<ir::ValueId, RefTensor> sources;
  std::map<ir::ValueId, HostTensor> held;  // the backend's sources
  for (ir::ValueId v = 0; v < step.size(); ++v) {
    const ir::Node& node = step.node(v);
    if (!node.is_source() || node.op == "constant") continue;
    held.emplace(v, node.attrs.s("feed", "") == "lr" ? scalar(0.01f) : source_value(rng, node));
    sources[v] = widen(held.at(v));
  }
  auto backend = GetParam().make();
  const ir::ValueId loss = step.output("loss");
  for (int s = 0; s < 5; ++s) {
    std::vector<HostTensor> values;
    for (ir::ValueId v = 0; v < step.size(); ++v) {
      const ir::Node& node = step.node(v);
      if (held.contains(v)) {
        values.push_back(held.at(v));
        continue;
      }
      std::vector<HostTensor> operands;
      for (ir::ValueId in : node.inputs) operands.push_back(values[in]);
      values.push_back(run(*backend, node, operands));
    }
    const std::vector<RefTensor> expected = evaluate_graph(step, sources);
    EXPECT_TRUE(all_close(values[loss], narrow(expected[loss]), {1e-4, 1e-6})) << "step " << s + 1;
    for (const auto& [state, next] : step.updates) {
      held.at(state) = values[next];
      sources[state] = expected[next];
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, TrainingStep, ::testing::ValuesIn(backends_under_test()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace spmd::kernels::testing
