// The reduction order is fixed by the algorithm, not by timing: with inputs whose sums round
// (non-integer floats), repeated runs give the same bits, and so does every rank.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "collectives/primitives.h"
#include "expected_values.h"
#include "mpi_fixture.h"

namespace spmd::collectives::testing {
namespace {

std::vector<float> rounding_inputs(int rank, int64_t n) {
  std::mt19937 generator(1234 + rank);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> values(n);
  for (float& v : values) v = value(generator) * 1e3f;
  return values;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

using DeterminismTest = MpiParamTest<Algorithm>;
TEST_P(DeterminismTest, SameBitsEveryRunAndOnEveryRank) {
  constexpr int64_t n = 4099;
  std::vector<float> first = rounding_inputs(rank(), n);
  all_reduce(comm(), first, ReduceOp::sum, GetParam());
  for (int run = 0; run < 3; ++run) {
    std::vector<float> again = rounding_inputs(rank(), n);
    all_reduce(comm(), again, ReduceOp::sum, GetParam());
    EXPECT_TRUE(same_bits(first, again)) << "run " << run;
  }
  std::vector<float> rank0 = first;
  broadcast(comm(), rank0, 0, Algorithm::native);
  EXPECT_TRUE(same_bits(first, rank0)) << "rank " << rank() << " differs from rank 0";
}
INSTANTIATE_TEST_SUITE_P(AllReduce, DeterminismTest, ::testing::ValuesIn(algorithms_of("all_reduce")),
                         [](const auto& info) { return to_string(info.param); });

// Sub-groups from split() run collectives of their own.
using SplitTest = MpiTest;
TEST_F(SplitTest, EvenAndOddRanksReduceSeparately) {
  const std::unique_ptr<Communicator> half = comm().split(rank() % 2, rank());
  ASSERT_EQ(half->size(), (size() + 1 - rank() % 2) / 2);
  EXPECT_EQ(half->rank(), rank() / 2);
  EXPECT_EQ(half->backend(), "mpi");
  std::vector<float> data = inputs(rank(), 1000);
  all_reduce(*half, data, ReduceOp::sum, Algorithm::ring);
  std::vector<float> expected(1000, 0.0f);
  for (int r = rank() % 2; r < size(); r += 2) {
    for (int64_t i = 0; i < 1000; ++i) expected[i] += input_value(r, i);
  }
  expect_elements(data, expected);
}

}  // namespace
}  // namespace spmd::collectives::testing
