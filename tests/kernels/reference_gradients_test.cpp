// The reference's gradient ops agree with central finite differences of its forward ops, in
// float64. This is what makes the reference fit to check autodiff against.
#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "kernels/reference/reference.h"
#include "tests/kernels/harness.h"

namespace spmd::kernels::testing {
namespace {

RefTensor random_tensor(std::mt19937& rng, ir::Shape shape, double lo = -1, double hi = 1) {
  RefTensor t{f32(std::move(shape)), {}};
  std::uniform_real_distribution<double> dist(lo, hi);
  for (int64_t i = 0; i < t.type.numel(); ++i) t.data.push_back(dist(rng));
  return t;
}

RefTensor eval(const std::string& op, const std::vector<RefTensor>& operands, ir::Attrs a = {},
               const ir::TensorType* declared = nullptr) {
  std::vector<ir::TensorType> types;
  std::vector<const RefTensor*> pointers;
  for (const RefTensor& t : operands) {
    types.push_back(t.type);
    pointers.push_back(&t);
  }
  return eval_reference(make_node(op, types, std::move(a), declared), pointers);
}

// Checks d/d(operands[wrt]) of sum(w * forward(operands)) against `analytic(w)`, where w is
// a random weighting of the forward result (the incoming gradient dy).
void expect_gradient(const std::function<RefTensor(const std::vector<RefTensor>&)>& forward,
                     std::vector<RefTensor> operands, size_t wrt,
                     const std::function<RefTensor(const RefTensor& dy)>& analytic) {
  std::mt19937 rng(99);
  const RefTensor w = random_tensor(rng, forward(operands).type.shape);
  auto objective = [&] {
    const RefTensor y = forward(operands);
    double sum = 0;
    for (size_t i = 0; i < y.data.size(); ++i) sum += w.data[i] * y.data[i];
    return sum;
  };
  const RefTensor expected = analytic(w);
  ASSERT_EQ(expected.type, operands[wrt].type);
  const double h = 1e-5;
  for (size_t j = 0; j < operands[wrt].data.size(); ++j) {
    const double saved = operands[wrt].data[j];
    operands[wrt].data[j] = saved + h;
    const double up = objective();
    operands[wrt].data[j] = saved - h;
    const double down = objective();
    operands[wrt].data[j] = saved;
    const double numeric = (up - down) / (2 * h);
    EXPECT_NEAR(expected.data[j], numeric, 1e-7 * (1 + std::abs(numeric))) << "element " << j;
  }
}

TEST(ReferenceGradients, GeluAndReluGradientsAreDerivatives) {
  std::mt19937 rng(1);
  RefTensor x = random_tensor(rng, {5, 7}, -3, 3);
  for (double& v : x.data) v += v > 0 ? 0.1 : -0.1;  // keep relu away from its kink
  for (const auto& [op, grad] : {std::pair{"gelu", "gelu_grad"}, std::pair{"relu", "relu_grad"}}) {
    expect_gradient([&](const auto& in) { return eval(op, in); }, {x}, 0,
                    [&](const RefTensor& dy) {
                      return eval(grad, {x, dy});
                    });
  }
}

TEST(ReferenceGradients, SoftmaxGradientsAreDerivativesAlongAnyAxis) {
  std::mt19937 rng(2);
  for (int64_t axis : {0, 1, 2}) {
    const ir::Attrs a = attrs({{"axis", axis}});
    const RefTensor x = random_tensor(rng, {2, 3, 5}, -2, 2);
    for (const auto& [op, grad] :
         {std::pair{"softmax", "softmax_grad"}, std::pair{"log_softmax", "log_softmax_grad"}}) {
      const RefTensor y = eval(op, {x}, a);
      expect_gradient([&](const auto& in) { return eval(op, in, a); }, {x}, 0,
                      [&](const RefTensor& dy) {
                        return eval(grad, {y, dy}, a);
                      });
    }
  }
}

TEST(ReferenceGradients, LayernormGradientsAreDerivativesForInputAndScale) {
  std::mt19937 rng(3);
  const ir::Attrs eps = attrs({{"eps", 1e-5}});
  const RefTensor x = random_tensor(rng, {3, 7}), scale = random_tensor(rng, {7}, 0.5, 1.5),
                  bias = random_tensor(rng, {7});
  auto forward = [&](const auto& in) { return eval("layernorm", in, eps); };
  expect_gradient(forward, {x, scale, bias}, 0, [&](const RefTensor& dy) {
    return eval("layernorm_grad", {x, scale, dy}, eps);
  });
  expect_gradient(forward, {x, scale, bias}, 1, [&](const RefTensor& dy) {
    return eval("layernorm_scale_grad", {x, dy}, eps);
  });
}

TEST(ReferenceGradients, ReduceMaxGradientIsDerivativeWhereMaximaAreUnique) {
  std::mt19937 rng(4);
  const RefTensor x = random_tensor(rng, {3, 4, 5});
  for (const auto& axes : {std::vector<int64_t>{1}, std::vector<int64_t>{0, 2}}) {
    const ir::Attrs a = attrs({{"axes", axes}, {"keepdims", int64_t{0}}});
    const RefTensor y = eval("reduce_max", {x}, a);
    expect_gradient([&](const auto& in) { return eval("reduce_max", in, a); }, {x}, 0,
                    [&](const RefTensor& dy) {
                      return eval("reduce_max_grad", {x, y, dy}, a);
                    });
  }
}

TEST(ReferenceGradients, CrossEntropyGradientIsDerivativeOfTheLoss) {
  std::mt19937 rng(5);
  const RefTensor logits = random_tensor(rng, {4, 6}, -3, 3);
  const RefTensor labels{i32({4}), {0, 5, 2, 2}};
  expect_gradient([&](const auto& in) { return eval("cross_entropy", in); }, {logits, labels}, 0,
                  [&](const RefTensor& dy) {
                    return eval("cross_entropy_grad", {logits, labels, dy});
                  });
}

TEST(ReferenceGradients, ScatterAddIsTheGradientOfGatherAndPadOfSlice) {
  std::mt19937 rng(6);
  const RefTensor table = random_tensor(rng, {5, 3});
  const RefTensor positions{i32({2, 3}), {4, 0, 4, 1, 4, 0}};
  expect_gradient([&](const auto& in) { return eval("gather", in); }, {table, positions}, 0,
                  [&](const RefTensor& dy) {
                    return eval("scatter_add", {positions, dy}, attrs({{"rows", int64_t{5}}}));
                  });
  const RefTensor x = random_tensor(rng, {4, 5});
  const ir::Attrs window =
      attrs({{"begin", std::vector<int64_t>{1, 2}}, {"end", std::vector<int64_t>{3, 5}}});
  expect_gradient(
      [&](const auto& in) { return eval("slice", in, window); }, {x}, 0,
      [&](const RefTensor& dy) {
        return eval("pad", {dy}, attrs({{"begin", std::vector<int64_t>{1, 2}}}), &x.type);
      });
}

}  // namespace
}  // namespace spmd::kernels::testing
