// Every backend against the float64 reference on every op of the registry (ggml's
// test-backend-ops): for each op a backend must compute (ir::OpTraits::needs_kernel), each
// example of tests/support/op_cases.h is drawn at random, run on the backend and on the
// reference, and compared within the kernels' usual tolerance. The backends are those of
// harness.h's list (the CUDA one is skipped where no GPU is present). An op added to the registry
// without examples, or without a kernel in some backend, fails here.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "ir/ops.h"
#include "kernels/backend.h"
#include "tests/kernels/harness.h"
#include "tests/support/op_cases.h"

namespace spmd::kernels::testing {
namespace {

using spmd::testing::OpCase;
using spmd::testing::OperandSpec;

std::vector<std::string> ops_needing_kernels() {
  std::vector<std::string> names;
  for (const ir::OpDef& def : ir::all_ops()) {
    if (def.traits.needs_kernel()) names.emplace_back(def.name);
  }
  return names;
}

HostTensor draw(std::mt19937& rng, const OperandSpec& spec) {
  if (spec.type.dtype == ir::DType::i32) return ids(rng, spec.type.shape, spec.bound);
  HostTensor t = uniform(rng, spec.type.shape, static_cast<float>(spec.lo), static_cast<float>(spec.hi));
  if (spec.integral) {
    for (float& x : t.words) x = std::round(x);
  }
  return t;
}

std::vector<ir::TensorType> types_of(const OpCase& c) {
  std::vector<ir::TensorType> types;
  for (const OperandSpec& s : c.operands) types.push_back(s.type);
  return types;
}

TEST(BackendParity, EveryOpOfTheRegistryHasExamples) {
  for (const ir::OpDef& def : ir::all_ops()) {
    EXPECT_FALSE(spmd::testing::op_cases(def.name).empty())
        << "op '" << def.name << "' has no examples in tests/support/op_cases.cpp";
  }
}

TEST(BackendParity, TheReferenceComputesEveryOpThatNeedsAKernel) {
  auto reference = make_reference_backend();
  for (const std::string& op : ops_needing_kernels()) {
    EXPECT_TRUE(reference->supports(op, {})) << "the reference has no kernel for op '" << op << "'";
  }
}

class BackendParity : public ::testing::TestWithParam<std::tuple<BackendUnderTest, std::string>> {};

TEST_P(BackendParity, MatchesTheReferenceOnEveryExample) {
  const auto& [under_test, op] = GetParam();
  SPMD_SKIP_IF_UNAVAILABLE(under_test);
  const std::vector<OpCase> cases = spmd::testing::op_cases(op);
  ASSERT_FALSE(cases.empty()) << "op '" << op << "' has no examples in tests/support/op_cases.cpp";
  std::unique_ptr<Backend> backend = under_test.make();
  auto reference = make_reference_backend();
  std::mt19937 rng(static_cast<unsigned>(std::hash<std::string>{}(op)));
  for (size_t i = 0; i < cases.size(); ++i) {
    const ir::Node node = spmd::testing::case_node(op, cases[i]);
    ASSERT_TRUE(backend->supports(op, types_of(cases[i])))
        << "the " << backend->name() << " backend has no kernel for op '" << op << "'";
    std::vector<HostTensor> operands;
    for (const OperandSpec& spec : cases[i].operands) operands.push_back(draw(rng, spec));
    EXPECT_TRUE(all_close(run(*backend, node, operands), run(*reference, node, operands)))
        << op << " example " << i << " on " << backend->name();
  }
}

INSTANTIATE_TEST_SUITE_P(Registry, BackendParity,
                         ::testing::Combine(::testing::ValuesIn(backends_under_test()),
                                            ::testing::ValuesIn(ops_needing_kernels())),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" + std::get<1>(info.param);
                         });

}  // namespace
}  // namespace spmd::kernels::testing
