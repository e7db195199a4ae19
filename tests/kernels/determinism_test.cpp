// The CPU backend gives bit-identical results when run twice on the same inputs, including
// for the kernels that sum across rows (layernorm_scale_grad, scatter_add, reductions over
// leading axes) and oneDNN's multi-threaded matmul.
#include <gtest/gtest.h>

#include <cstring>

#include "tests/kernels/harness.h"

namespace spmd::kernels::testing {
namespace {

bool bit_equal(const HostTensor& a, const HostTensor& b) {
  return a.type == b.type &&
         std::memcmp(a.words.data(), b.words.data(), a.words.size() * sizeof(float)) == 0;
}

void expect_deterministic(const ir::Node& node, const std::vector<HostTensor>& in) {
  auto first = make_cpu_backend();
  auto second = make_cpu_backend();
  const HostTensor a = run(*first, node, in);
  const HostTensor b = run(*first, node, in);   // cached primitive
  const HostTensor c = run(*second, node, in);  // freshly built primitive
  EXPECT_TRUE(bit_equal(a, b)) << node.op << " differs between two runs";
  EXPECT_TRUE(bit_equal(a, c)) << node.op << " differs between two backends";
}

TEST(CpuDeterminism, RepeatedRunsAreBitIdentical) {
  std::mt19937 rng(61);
  const HostTensor x = uniform(rng, {1024, 256}), dy = uniform(rng, {1024, 256});
  expect_deterministic(make_node("matmul", {x, uniform(rng, {256, 768})}),
                       {x, uniform(rng, {256, 768})});
  expect_deterministic(make_node("layernorm_scale_grad", {x, dy}, attrs({{"eps", 1e-5}})), {x, dy});
  const ir::Attrs leading = attrs({{"axes", std::vector<int64_t>{0}}, {"keepdims", int64_t{0}}});
  expect_deterministic(make_node("reduce_sum", {x}, leading), {x});
  const HostTensor positions = ids(rng, {1024}, 50);
  expect_deterministic(make_node("scatter_add", {positions, dy}, attrs({{"rows", int64_t{50}}})),
                       {positions, dy});
  const HostTensor labels = ids(rng, {1024}, 256);
  const HostTensor dloss = uniform(rng, {1024});
  expect_deterministic(make_node("cross_entropy_grad", {x, labels, dloss}), {x, labels, dloss});
  expect_deterministic(make_node("softmax", {x}, attrs({{"axis", int64_t{-1}}})), {x});
}

}  // namespace
}  // namespace spmd::kernels::testing
