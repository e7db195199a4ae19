// The CPU elementwise kernels against the reference: unaries, numpy-broadcasting binaries
// (including the layouts dnnl::binary cannot take), the nonlinearity gradients, causal_mask.
#include <gtest/gtest.h>

#include "tests/kernels/harness.h"

namespace spmd::kernels::testing {
namespace {

const std::vector<ir::Shape> kShapes = {{7, 13}, {129}, {1}, {2, 3, 31}, {}};

TEST(CpuUnary, MatchesReferenceOnEveryUnaryOp) {
  std::mt19937 rng(1);
  for (const char* op : {"neg", "exp", "tanh", "relu", "gelu"}) {
    for (const ir::Shape& shape : kShapes) {
      std::vector<HostTensor> in{uniform(rng, shape, -4.f, 4.f)};
      EXPECT_TRUE(cpu_matches_reference(make_node(op, in), in));
    }
  }
  for (const char* op : {"log", "sqrt", "rsqrt"}) {  // positive domain
    for (const ir::Shape& shape : kShapes) {
      std::vector<HostTensor> in{uniform(rng, shape, 0.05f, 5.f)};
      EXPECT_TRUE(cpu_matches_reference(make_node(op, in), in));
    }
  }
}

TEST(CpuUnary, GradientsOfReluAndGeluMatchReference) {
  std::mt19937 rng(2);
  for (const char* op : {"relu_grad", "gelu_grad"}) {
    for (const ir::Shape& shape : {ir::Shape{7, 13}, ir::Shape{3, 129}, ir::Shape{1}}) {
      std::vector<HostTensor> in{uniform(rng, shape, -4.f, 4.f), uniform(rng, shape)};
      EXPECT_TRUE(cpu_matches_reference(make_node(op, in), in));
    }
  }
}

// Operand shape pairs covering: same shape, trailing-axis bias, broadcasting inside, the
// first operand broadcast (where oneDNN cannot help), both broadcast, scalars.
const std::vector<std::pair<ir::Shape, ir::Shape>> kBroadcasts = {
    {{7, 13}, {7, 13}},
    {{3, 7, 13}, {13}},
    {{3, 7, 13}, {7, 1}},
    {{13}, {3, 7, 13}},
    {{3, 1, 13}, {1, 7, 1}},
    {{}, {5, 3}},
    {{5, 3}, {}},
    {{31, 129}, {31, 1}},
    {{1}, {1}},
    {{2, 1, 5, 7}, {2, 3, 5, 7}},
    {{}, {}},
};

TEST(CpuBinary, MatchesReferenceUnderEveryBroadcastLayout) {
  std::mt19937 rng(3);
  for (const char* op : {"add", "sub", "mul"}) {
    for (const auto& [sa, sb] : kBroadcasts) {
      std::vector<HostTensor> in{uniform(rng, sa), uniform(rng, sb)};
      EXPECT_TRUE(cpu_matches_reference(make_node(op, in), in));
    }
  }
  for (const auto& [sa, sb] : kBroadcasts) {  // divisors kept away from 0
    std::vector<HostTensor> in{uniform(rng, sa), uniform(rng, sb, 0.5f, 2.f)};
    EXPECT_TRUE(cpu_matches_reference(make_node("div", in), in));
  }
}

TEST(CpuBinary, MatchesReferenceOnLargeSameShapeOperands) {
  std::mt19937 rng(4);
  std::vector<HostTensor> in{uniform(rng, {129, 257}), uniform(rng, {129, 257})};
  EXPECT_TRUE(cpu_matches_reference(make_node("add", in), in));
  std::vector<HostTensor> bias{uniform(rng, {8, 128, 257}), uniform(rng, {257})};
  EXPECT_TRUE(cpu_matches_reference(make_node("add", bias), bias));
}

TEST(CpuCausalMask, FillsAboveTheDiagonalLikeReference) {
  std::mt19937 rng(5);
  for (const ir::Shape& shape : {ir::Shape{7, 7}, ir::Shape{2, 3, 13, 13}, ir::Shape{1, 1}}) {
    std::vector<HostTensor> in{uniform(rng, shape)};
    EXPECT_TRUE(cpu_matches_reference(make_node("causal_mask", in, attrs({{"fill", -1e9}})), in));
  }
}

// The runtime may run an elementwise op in place: `out` aliasing an operand of its shape.
HostTensor run_in_place(const ir::Node& node, std::vector<HostTensor> in, size_t aliased) {
  std::vector<TensorRef> refs;
  for (const HostTensor& t : in) refs.push_back(t.ref());
  make_cpu_backend()->run(node, refs, refs[aliased]);
  return in[aliased];
}

TEST(CpuElementwise, InPlaceRunsEqualOutOfPlaceRuns) {
  std::mt19937 rng(6);
  const HostTensor x = uniform(rng, {7, 13}, 0.5f, 2.f), y = uniform(rng, {7, 13}, 0.5f, 2.f);
  const HostTensor row = uniform(rng, {13}, 0.5f, 2.f);
  struct Case {
    std::string op;
    std::vector<HostTensor> in;
    size_t aliased;
    ir::Attrs attrs;
  };
  const std::vector<Case> cases = {
      {"add", {x, row}, 0, {}},
      {"sub", {x, y}, 1, {}},
      {"div", {row, x}, 1, {}},
      {"mul", {row, x}, 1, {}},
      {"exp", {x}, 0, {}},
      {"gelu_grad", {x, y}, 1, {}},
      {"relu_grad", {x, y}, 0, {}},
      {"causal_mask", {uniform(rng, {3, 5, 5})}, 0, attrs({{"fill", -1.0}})},
      {"ema", {x, y}, 0, attrs({{"decay", 0.9}, {"gain", 0.1}})},
  };
  for (const Case& c : cases) {
    const ir::Node node = make_node(c.op, c.in, c.attrs);
    const HostTensor expected = run(*make_cpu_backend(), node, c.in);
    EXPECT_TRUE(all_close(run_in_place(node, c.in, c.aliased), expected, {0, 0})) << c.op;
  }
}

}  // namespace
}  // namespace spmd::kernels::testing
