// The CPU gather, scatter_add and cross-entropy kernels against the reference.
#include <gtest/gtest.h>

#include "tests/kernels/harness.h"

namespace spmd::kernels::testing {
namespace {

TEST(CpuGather, LooksUpRowsLikeReference) {
  std::mt19937 rng(41);
  for (const auto& [rows, width, positions] :
       {std::tuple{31, 13, ir::Shape{3, 7}}, std::tuple{129, 1, ir::Shape{5}},
        std::tuple{7, 257, ir::Shape{2, 2, 3}}}) {
    std::vector<HostTensor> in{uniform(rng, {rows, width}), ids(rng, positions, rows)};
    EXPECT_TRUE(cpu_matches_reference(make_node("gather", in), in));
  }
}

TEST(CpuScatterAdd, SumsRepeatedIdsAndZeroesUntouchedRows) {
  std::mt19937 rng(42);
  for (const auto& [rows, id_bound, width, positions] :
       {std::tuple{5, 5, 13, ir::Shape{3, 7}}, std::tuple{9, 3, 7, ir::Shape{31}},
        std::tuple{129, 129, 31, ir::Shape{8, 16}}}) {
    std::vector<HostTensor> in{ids(rng, positions, id_bound), uniform(rng, [&] {
                                 ir::Shape s = positions;
                                 s.push_back(width);
                                 return s;
                               }())};
    EXPECT_TRUE(
        cpu_matches_reference(make_node("scatter_add", in, attrs({{"rows", int64_t{rows}}})), in));
  }
}

TEST(CpuCrossEntropy, LossAndGradientMatchReference) {
  std::mt19937 rng(43);
  for (const auto& [lead, classes] : {std::pair{ir::Shape{7}, 13}, std::pair{ir::Shape{2, 3}, 129},
                                      std::pair{ir::Shape{1}, 1}, std::pair{ir::Shape{64}, 257}}) {
    ir::Shape logits_shape = lead;
    logits_shape.push_back(classes);
    const HostTensor logits = uniform(rng, logits_shape, -8.f, 8.f);
    const HostTensor labels = ids(rng, lead, classes);
    std::vector<HostTensor> in{logits, labels};
    EXPECT_TRUE(cpu_matches_reference(make_node("cross_entropy", in), in));
    std::vector<HostTensor> grad_in{logits, labels, uniform(rng, lead)};
    EXPECT_TRUE(cpu_matches_reference(make_node("cross_entropy_grad", grad_in), grad_in));
  }
}

}  // namespace
}  // namespace spmd::kernels::testing
