// Exact values the float64 reference must produce, worked out by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/reference/reference.h"
#include "tests/kernels/harness.h"

namespace spmd::kernels::testing {
namespace {

RefTensor tensor(ir::Shape shape, std::vector<double> values, ir::DType dtype = ir::DType::f32) {
  return {{dtype, std::move(shape)}, std::move(values)};
}

RefTensor eval(const std::string& op, const std::vector<RefTensor>& operands, ir::Attrs a = {}) {
  std::vector<ir::TensorType> types;
  std::vector<const RefTensor*> pointers;
  for (const RefTensor& t : operands) {
    types.push_back(t.type);
    pointers.push_back(&t);
  }
  return eval_reference(make_node(op, types, std::move(a)), pointers);
}

constexpr double kExact = 1e-15;

TEST(ReferenceValues, SoftmaxOfZeroAndLnTwoIsOneThirdTwoThirds) {
  const RefTensor y =
      eval("softmax", {tensor({2}, {0.0, std::log(2.0)})}, attrs({{"axis", int64_t{-1}}}));
  EXPECT_NEAR(y.data[0], 1.0 / 3.0, kExact);
  EXPECT_NEAR(y.data[1], 2.0 / 3.0, kExact);
}

TEST(ReferenceValues, LogSoftmaxStaysFiniteForHugeLogits) {
  const RefTensor y =
      eval("log_softmax", {tensor({2}, {1000.0, 1000.0})}, attrs({{"axis", int64_t{0}}}));
  EXPECT_NEAR(y.data[0], -std::log(2.0), kExact);
}

TEST(ReferenceValues, CrossEntropyOfUniformLogitsIsLogOfClassCount) {
  for (int64_t classes : {1, 2, 7, 256}) {
    const RefTensor logits = tensor({3, classes}, std::vector<double>(3 * classes, 0.25));
    const RefTensor labels =
        tensor({3}, {0.0, 0.0, static_cast<double>(classes - 1)}, ir::DType::i32);
    const RefTensor loss = eval("cross_entropy", {logits, labels});
    for (double l : loss.data) EXPECT_NEAR(l, std::log(static_cast<double>(classes)), 1e-13);
  }
}

TEST(ReferenceValues, CrossEntropyGradientIsSoftmaxMinusOneHot) {
  const RefTensor logits = tensor({1, 2}, {0.0, std::log(2.0)});
  const RefTensor labels = tensor({1}, {1.0}, ir::DType::i32);
  const RefTensor g = eval("cross_entropy_grad", {logits, labels, tensor({1}, {2.0})});
  EXPECT_NEAR(g.data[0], 2.0 * (1.0 / 3.0), kExact);
  EXPECT_NEAR(g.data[1], 2.0 * (2.0 / 3.0 - 1.0), kExact);
}

TEST(ReferenceValues, AdamwFirstStepMovesEachWeightByLearningRateAgainstGradientSign) {
  const double lr = 0.01, beta1 = 0.9, beta2 = 0.999;
  const std::vector<double> g = {0.3, -2.0, 1e-3};
  RefTensor p = tensor({3}, {1.0, 1.0, 1.0}), m = tensor({3}, {}), v = tensor({3}, {});
  for (double gi : g) {
    m.data.push_back((1 - beta1) * gi);  // ema of a zero state after one step
    v.data.push_back((1 - beta2) * gi * gi);
  }
  const ir::Attrs a =
      attrs({{"beta1", beta1}, {"beta2", beta2}, {"eps", 1e-8}, {"weight_decay", 0.0}});
  const RefTensor next = eval("adamw", {p, m, v, tensor({}, {lr}), tensor({}, {1.0})}, a);
  for (size_t i = 0; i < g.size(); ++i) {
    EXPECT_NEAR(next.data[i], 1.0 - lr * std::copysign(1.0, g[i]), lr * 1e-4);
  }
}

TEST(ReferenceValues, LayernormOfOneTwoThreeIsStandardised) {
  const RefTensor y =
      eval("layernorm", {tensor({3}, {1, 2, 3}), tensor({3}, {1, 1, 1}), tensor({3}, {0, 0, 0})},
           attrs({{"eps", 0.0}}));
  EXPECT_NEAR(y.data[0], -std::sqrt(1.5), 1e-14);
  EXPECT_NEAR(y.data[1], 0.0, 1e-14);
  EXPECT_NEAR(y.data[2], std::sqrt(1.5), 1e-14);
}

TEST(ReferenceValues, MatmulOfSmallMatricesWithAndWithoutTransposes) {
  const RefTensor a = tensor({2, 2}, {1, 2, 3, 4}), b = tensor({2, 2}, {5, 6, 7, 8});
  EXPECT_EQ(eval("matmul", {a, b}).data, (std::vector<double>{19, 22, 43, 50}));
  // a^T b = [[1,3],[2,4]] x [[5,6],[7,8]]
  EXPECT_EQ(eval("matmul", {a, b}, attrs({{"transpose_a", int64_t{1}}})).data,
            (std::vector<double>{26, 30, 38, 44}));
  // a b^T = [[1,2],[3,4]] x [[5,7],[6,8]]
  EXPECT_EQ(eval("matmul", {a, b}, attrs({{"transpose_b", int64_t{1}}})).data,
            (std::vector<double>{17, 23, 39, 53}));
}

TEST(ReferenceValues, GeluIsZeroAtZeroAndIdentityForLargeInputs) {
  const RefTensor y = eval("gelu", {tensor({3}, {0.0, 10.0, -10.0})});
  EXPECT_EQ(y.data[0], 0.0);
  EXPECT_NEAR(y.data[1], 10.0, 1e-12);
  EXPECT_NEAR(y.data[2], 0.0, 1e-12);
}

TEST(ReferenceValues, ScatterAddAccumulatesRepeatedIds) {
  const RefTensor ids = tensor({3}, {1, 1, 0}, ir::DType::i32);
  const RefTensor dy = tensor({3, 2}, {1, 2, 10, 20, 100, 200});
  const RefTensor out = eval("scatter_add", {ids, dy}, attrs({{"rows", int64_t{3}}}));
  EXPECT_EQ(out.data, (std::vector<double>{100, 200, 11, 22, 0, 0}));
}

TEST(ReferenceValues, CausalMaskKeepsTheLowerTriangle) {
  const RefTensor y = eval("causal_mask", {tensor({2, 2}, {1, 2, 3, 4})}, attrs({{"fill", -5.0}}));
  EXPECT_EQ(y.data, (std::vector<double>{1, -5, 3, 4}));
}

}  // namespace
}  // namespace spmd::kernels::testing
