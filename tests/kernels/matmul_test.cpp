// The CPU matmul against the reference: every transpose combination on 2-D, batched, 4-D
// (attention-shaped) and shared-weight problems, with odd and prime sizes.
#include <gtest/gtest.h>

#include "tests/kernels/harness.h"

namespace spmd::kernels::testing {
namespace {

// Stored shape of an operand of logical [..., rows, cols], transposed or not.
ir::Shape stored(ir::Shape batch, int64_t rows, int64_t cols, bool transposed) {
  batch.push_back(transposed ? cols : rows);
  batch.push_back(transposed ? rows : cols);
  return batch;
}

void expect_matmul_matches(const ir::Shape& batch_a, const ir::Shape& batch_b, int64_t m, int64_t k,
                           int64_t n) {
  std::mt19937 rng(7);
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      std::vector<HostTensor> in{uniform(rng, stored(batch_a, m, k, ta)),
                                 uniform(rng, stored(batch_b, k, n, tb))};
      const auto node = make_node(
          "matmul", in, attrs({{"transpose_a", int64_t{ta}}, {"transpose_b", int64_t{tb}}}));
      EXPECT_TRUE(cpu_matches_reference(node, in)) << "transpose_a=" << ta << " transpose_b=" << tb;
    }
  }
}

TEST(CpuMatmul, MatchesReferenceOnPlainMatrices) {
  expect_matmul_matches({}, {}, 7, 13, 31);
  expect_matmul_matches({}, {}, 1, 1, 1);
  expect_matmul_matches({}, {}, 1, 129, 1);
  expect_matmul_matches({}, {}, 129, 1, 13);
}

TEST(CpuMatmul, MatchesReferenceOnBatchedMatrices) {
  expect_matmul_matches({3}, {3}, 7, 13, 5);
  expect_matmul_matches({1}, {1}, 31, 7, 13);
}

TEST(CpuMatmul, MatchesReferenceOnAttentionShapedProducts) {
  expect_matmul_matches({2, 3}, {2, 3}, 13, 7, 13);
  expect_matmul_matches({2, 3}, {2, 3}, 13, 13, 7);
}

TEST(CpuMatmul, MatchesReferenceWhenWeightIsSharedByEveryBatch) {
  expect_matmul_matches({4, 7}, {}, 5, 13, 31);  // a's batch folds into M unless transposed
  expect_matmul_matches({3}, {}, 1, 129, 7);
}

TEST(CpuMatmul, MatchesReferenceWhenLeftOperandIsSharedByEveryBatch) {
  expect_matmul_matches({}, {4}, 7, 13, 31);
  expect_matmul_matches({}, {2, 3}, 5, 1, 7);
}

}  // namespace
}  // namespace spmd::kernels::testing
