// Algorithm names, the algorithms of each primitive, and the cut of a buffer into blocks.
#include <gtest/gtest.h>

#include "collectives/primitives.h"
#include "common/error.h"

namespace spmd::collectives {
namespace {

TEST(NamesTest, EveryAlgorithmRoundTripsThroughItsName) {
  for (const char* primitive : {"all_reduce", "reduce_scatter", "all_gather", "broadcast", "reduce", "all_to_all"}) {
    const std::vector<Algorithm> algorithms = algorithms_of(primitive);
    ASSERT_FALSE(algorithms.empty());
    EXPECT_EQ(algorithms.front(), Algorithm::native);
    for (Algorithm a : algorithms) EXPECT_EQ(algorithm_from_string(to_string(a)), a);
  }
  EXPECT_EQ(to_string(Algorithm::recursive_halving_doubling), "recursive_halving_doubling");
  EXPECT_THROW(algorithm_from_string("butterfly"), Error);
  EXPECT_THROW(algorithms_of("gather"), Error);
}

TEST(PartitionTest, FirstBlocksTakeTheRemainder) {
  const Partition cut = partition(10, 4);
  EXPECT_EQ(cut.count(0), 3);
  EXPECT_EQ(cut.count(1), 3);
  EXPECT_EQ(cut.count(2), 2);
  EXPECT_EQ(cut.offset(3), 8);
  const Partition small = partition(2, 5);
  EXPECT_EQ(small.count(1), 1);
  EXPECT_EQ(small.count(4), 0);
  EXPECT_EQ(small.offset(4), 2);
}

TEST(PartitionTest, BlocksTileTheBuffer) {
  for (int64_t n : {0, 1, 7, 1000, 4099}) {
    for (int p : {1, 2, 3, 5, 8}) {
      const Partition cut = partition(n, p);
      int64_t end = 0;
      for (int i = 0; i < p; ++i) {
        EXPECT_EQ(cut.offset(i), end);
        end += cut.count(i);
      }
      EXPECT_EQ(end, n);
    }
  }
}

}  // namespace
}  // namespace spmd::collectives
