// The CPU data-movement kernels against the reference: transpose, reshape, broadcast, slice,
// pad, concat and constant, on f32 and i32.
#include <gtest/gtest.h>

#include "tests/kernels/harness.h"

namespace spmd::kernels::testing {
namespace {

TEST(CpuTranspose, MatchesReferenceForAnyPermutation) {
  std::mt19937 rng(31);
  const std::vector<std::pair<ir::Shape, std::vector<int64_t>>> cases = {
      {{2, 3, 5, 7}, {0, 2, 1, 3}},  // attention heads: contiguous 7-long runs
      {{2, 3, 5, 7}, {2, 0, 3, 1}}, {{13, 31}, {1, 0}}, {{1, 7, 1}, {2, 1, 0}}, {{129}, {0}},
      {{3, 4, 5}, {0, 1, 2}},
  };
  for (const auto& [shape, perm] : cases) {
    std::vector<HostTensor> in{uniform(rng, shape)};
    EXPECT_TRUE(cpu_matches_reference(make_node("transpose", in, attrs({{"perm", perm}})), in));
    std::vector<HostTensor> labels{ids(rng, shape, 1000)};
    EXPECT_TRUE(
        cpu_matches_reference(make_node("transpose", labels, attrs({{"perm", perm}})), labels));
  }
}

TEST(CpuReshape, CopiesElementsInOrder) {
  std::mt19937 rng(32);
  std::vector<HostTensor> in{uniform(rng, {3, 7, 13})};
  const auto node = make_node("reshape", in, attrs({{"shape", std::vector<int64_t>{21, 13}}}));
  EXPECT_TRUE(cpu_matches_reference(node, in));
}

TEST(CpuBroadcast, MatchesReferenceForLeadingInnerAndScalarExpansion) {
  std::mt19937 rng(33);
  const std::vector<std::pair<ir::Shape, ir::Shape>> cases = {
      {{13}, {3, 7, 13}}, {{7, 1}, {3, 7, 13}}, {{1}, {5}}, {{}, {4, 3}}, {{3, 1, 5}, {3, 4, 5}},
  };
  for (const auto& [from, to] : cases) {
    std::vector<HostTensor> in{uniform(rng, from)};
    EXPECT_TRUE(cpu_matches_reference(make_node("broadcast", in, attrs({{"shape", to}})), in));
  }
}

struct Window {
  ir::Shape shape;
  std::vector<int64_t> begin, end;
};

const std::vector<Window> kWindows = {
    {{7, 13}, {2, 3}, {5, 13}},
    {{3, 7, 13}, {0, 1, 0}, {3, 6, 13}},
    {{2, 3, 4, 5}, {1, 0, 1, 2}, {2, 3, 3, 5}},
    {{129}, {5}, {6}},
};

ir::Shape window_shape(const Window& w) {
  ir::Shape s;
  for (size_t d = 0; d < w.begin.size(); ++d) s.push_back(w.end[d] - w.begin[d]);
  return s;
}

TEST(CpuSlice, MatchesReference) {
  std::mt19937 rng(34);
  for (const Window& w : kWindows) {
    std::vector<HostTensor> in{uniform(rng, w.shape)};
    EXPECT_TRUE(cpu_matches_reference(
        make_node("slice", in, attrs({{"begin", w.begin}, {"end", w.end}})), in));
  }
}

TEST(CpuPad, PlacesOperandInZerosLikeReference) {
  std::mt19937 rng(35);
  for (const Window& w : kWindows) {
    std::vector<HostTensor> in{uniform(rng, window_shape(w))};
    const ir::TensorType full = f32(w.shape);
    EXPECT_TRUE(
        cpu_matches_reference(make_node("pad", in, attrs({{"begin", w.begin}}), &full), in));
  }
}

TEST(CpuConcat, MatchesReferenceAlongEveryAxis) {
  std::mt19937 rng(36);
  for (int64_t axis : {0, 1, 2, -1}) {
    std::vector<HostTensor> in;
    for (int64_t size : {1, 5, 3}) {
      ir::Shape shape{2, 3, 4};
      shape[axis < 0 ? 2 : axis] = size;
      in.push_back(uniform(rng, shape));
    }
    EXPECT_TRUE(cpu_matches_reference(make_node("concat", in, attrs({{"axis", axis}})), in));
  }
}

TEST(CpuConstant, FillsTheDeclaredType) {
  const ir::TensorType type = f32({3, 129});
  EXPECT_TRUE(cpu_matches_reference(
      make_node("constant", std::vector<ir::TensorType>{}, attrs({{"value", 2.5}}), &type), {}));
  const ir::TensorType one = f32({});
  EXPECT_TRUE(cpu_matches_reference(
      make_node("constant", std::vector<ir::TensorType>{}, attrs({{"value", -1.0}}), &one), {}));
}

}  // namespace
}  // namespace spmd::kernels::testing
