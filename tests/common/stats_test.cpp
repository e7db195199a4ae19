// The figures benchmarks and the job's measurements are reduced to: the median of noisy runs,
// how far they spread, and the slowest of the ranks' figures that a step goes at the pace of.
#include <gtest/gtest.h>

#include "common/stats.h"

namespace spmd {
namespace {

TEST(Stats, TheMedianIsTheMiddleValueAndTheUpperOfTwo) {
  EXPECT_EQ(median({3, 1, 2}), 2);
  EXPECT_EQ(median({4, 1, 3, 2}), 3);
  EXPECT_EQ(median({}), 0);
}

TEST(Stats, TheSpreadIsHalfTheInterquartileRangeOverTheMedian) {
  // Sorted 8, 9, 10, 11, 30: quartiles 9 and 11, median 10; the outlier does not count.
  EXPECT_DOUBLE_EQ(relative_spread({10, 30, 9, 11, 8}), 0.1);
  EXPECT_EQ(relative_spread({5, 5, 5}), 0);
  EXPECT_EQ(relative_spread({}), 0);
}

TEST(Stats, RoundsThatLieApartSpreadAsFarAsTheyDo) {
  // Rounds that agree keep their runs' spread; one round at twice the others' time (the
  // machine slowed between rounds) is left out of the median and widens the spread.
  const RoundsMedian agree = median_of_rounds({10, 10.2, 9.8}, {0.04, 0.05, 0.06});
  EXPECT_DOUBLE_EQ(agree.median, 10);
  EXPECT_DOUBLE_EQ(agree.spread, 0.05);
  const RoundsMedian drift = median_of_rounds({10, 20, 10}, {0.01, 0.01, 0.01});
  EXPECT_DOUBLE_EQ(drift.median, 10);
  EXPECT_DOUBLE_EQ(drift.spread, 0.5);
  EXPECT_DOUBLE_EQ(median_of_rounds({}, {}).median, 0);
}

TEST(Stats, TheSlowestIsTheLongestTimeOrTheLeastRateOfThoseMeasured) {
  EXPECT_EQ(slowest_measured({2e-6, 0, 3e-6, 1e-6}, /*is_time=*/true), 3e-6);
  EXPECT_EQ(slowest_measured({190e9, 0, 170e9, 185e9}, /*is_time=*/false), 170e9);  // 0: not measured
  EXPECT_EQ(slowest_measured({0, 0}, false), 0);
}

}  // namespace
}  // namespace spmd
