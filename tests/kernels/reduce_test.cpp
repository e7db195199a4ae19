// The CPU reductions against the reference over leading, trailing, inner and several axes,
// with and without keepdims, and the gradient of reduce_max with ties.
#include <gtest/gtest.h>

#include "kernels/reference/reference.h"
#include "tests/kernels/harness.h"

namespace spmd::kernels::testing {
namespace {

struct ReduceCase {
  ir::Shape shape;
  std::vector<int64_t> axes;
};

const std::vector<ReduceCase> kCases = {
    {{3, 7, 13}, {2}},       {{3, 7, 13}, {0}},         {{3, 7, 13}, {1}}, {{3, 7, 13}, {0, 2}},
    {{3, 7, 13}, {0, 1, 2}}, {{3, 7, 13}, {-1}},        {{129}, {0}},      {{5, 1, 7}, {1}},
    {{2, 3, 5, 7}, {0, 2}},  {{2, 3, 5, 7}, {1, 2}},    {{257, 31}, {0}},  {{1, 1}, {0, 1}},
    {{31, 5, 3}, {1}},       {{4, 3, 5, 7}, {0, 2, 3}},
};

TEST(CpuReduce, MatchesReferenceOverAnyAxesWithAndWithoutKeepdims) {
  std::mt19937 rng(11);
  for (const char* op : {"reduce_sum", "reduce_mean", "reduce_max"}) {
    for (const ReduceCase& c : kCases) {
      for (int64_t keep : {0, 1}) {
        std::vector<HostTensor> in{uniform(rng, c.shape)};
        const auto node = make_node(op, in, attrs({{"axes", c.axes}, {"keepdims", keep}}));
        EXPECT_TRUE(cpu_matches_reference(node, in)) << "keepdims=" << keep;
      }
    }
  }
}

TEST(CpuReduce, GradientOfMaxGoesToEveryTiedMaximum) {
  std::mt19937 rng(12);
  auto reference = make_reference_backend();
  for (const ReduceCase& c : kCases) {
    for (int64_t keep : {0, 1}) {
      // Small integers, so that maxima tie often.
      HostTensor x = uniform(rng, c.shape, 0.f, 3.f);
      for (float& v : x.words) v = std::floor(v);
      const ir::Attrs a = attrs({{"axes", c.axes}, {"keepdims", keep}});
      const HostTensor y = run(*reference, make_node("reduce_max", {x}, a), {x});
      std::vector<HostTensor> in{x, y, uniform(rng, y.type.shape)};
      EXPECT_TRUE(cpu_matches_reference(make_node("reduce_max_grad", in, a), in));
    }
  }
}

}  // namespace
}  // namespace spmd::kernels::testing
