// The CPU softmax family and layernorm family against the reference.
#include <gtest/gtest.h>

#include "tests/kernels/harness.h"

namespace spmd::kernels::testing {
namespace {

struct AxisCase {
  ir::Shape shape;
  int64_t axis;
};

const std::vector<AxisCase> kAxisCases = {
    {{7, 13}, -1}, {{3, 7, 13}, 1}, {{3, 7, 13}, 0}, {{129}, 0}, {{2, 4, 16, 16}, 3}, {{5, 1}, 1},
};

TEST(CpuSoftmax, MatchesReferenceAlongAnyAxisEvenForLargeLogits) {
  std::mt19937 rng(21);
  for (const char* op : {"softmax", "log_softmax"}) {
    for (const AxisCase& c : kAxisCases) {
      std::vector<HostTensor> in{uniform(rng, c.shape, -30.f, 30.f)};
      EXPECT_TRUE(cpu_matches_reference(make_node(op, in, attrs({{"axis", c.axis}})), in));
    }
  }
}

TEST(CpuSoftmax, GradientsMatchReference) {
  std::mt19937 rng(22);
  auto reference = make_reference_backend();
  for (const auto& [forward, grad] :
       {std::pair{"softmax", "softmax_grad"}, std::pair{"log_softmax", "log_softmax_grad"}}) {
    for (const AxisCase& c : kAxisCases) {
      const ir::Attrs a = attrs({{"axis", c.axis}});
      const HostTensor x = uniform(rng, c.shape, -3.f, 3.f);
      const HostTensor y = run(*reference, make_node(forward, {x}, a), {x});
      std::vector<HostTensor> in{y, uniform(rng, c.shape)};
      EXPECT_TRUE(cpu_matches_reference(make_node(grad, in, a), in));
    }
  }
}

const std::vector<ir::Shape> kRowShapes = {{7, 13}, {3, 5, 129}, {1, 1}, {31}, {64, 256}};

std::vector<HostTensor> layernorm_operands(std::mt19937& rng, const ir::Shape& shape) {
  const int64_t d = shape.back();
  // An offset mean, so that mean subtraction matters.
  return {uniform(rng, shape, 1.f, 3.f), uniform(rng, {d}, 0.5f, 1.5f), uniform(rng, {d})};
}

TEST(CpuLayernorm, MatchesReference) {
  std::mt19937 rng(23);
  for (const ir::Shape& shape : kRowShapes) {
    const auto in = layernorm_operands(rng, shape);
    EXPECT_TRUE(cpu_matches_reference(make_node("layernorm", in, attrs({{"eps", 1e-5}})), in));
  }
}

TEST(CpuLayernorm, InputAndScaleGradientsMatchReference) {
  std::mt19937 rng(24);
  const ir::Attrs eps = attrs({{"eps", 1e-5}});
  for (const ir::Shape& shape : kRowShapes) {
    const auto ln = layernorm_operands(rng, shape);
    const HostTensor dy = uniform(rng, shape);
    std::vector<HostTensor> grad_in{ln[0], ln[1], dy};
    EXPECT_TRUE(cpu_matches_reference(make_node("layernorm_grad", grad_in, eps), grad_in));
    std::vector<HostTensor> scale_in{ln[0], dy};
    EXPECT_TRUE(cpu_matches_reference(make_node("layernorm_scale_grad", scale_in, eps), scale_in));
  }
}

}  // namespace
}  // namespace spmd::kernels::testing
