// Measured kernel rates by problem: the matmul grid read at and between its points (in log
// space), held beyond its largest values and its time held below its smallest, a grid with
// a hole or a bad figure refused, the curve by size read the same way.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "common/error.h"
#include "partitioner/kernel_rates.h"

namespace spmd::partitioner {
namespace {

// m and n in {16, 1024}, k in {16, 1024}: 1 GFLOP/s at k = 16, 4 at k = 1024, plus a little
// for a large m so that the dimensions are told apart.
GemmRates k_bound_grid() {
  std::vector<GemmPoint> points;
  for (double m : {16.0, 1024.0}) {
    for (double n : {16.0, 1024.0}) {
      for (double k : {16.0, 1024.0}) points.push_back({m, n, k, (k == 16 ? 1e9 : 4e9) + (m == 1024 ? 1e8 : 0)});
    }
  }
  return GemmRates(points);
}

TEST(GemmRates, AGridPointIsReadAsMeasured) {
  const GemmRates g = k_bound_grid();
  EXPECT_DOUBLE_EQ(g.rate(16, 16, 16), 1e9);
  EXPECT_DOUBLE_EQ(g.rate(1024, 16, 1024), 4.1e9);
  EXPECT_DOUBLE_EQ(g.rate(16, 1024, 1024), 4e9);
}

TEST(GemmRates, BetweenPointsItIsLinearInLogSpaceAndBeyondThemHeld) {
  const GemmRates g = k_bound_grid();
  EXPECT_DOUBLE_EQ(g.rate(16, 16, 128), 2.5e9);  // 128 lies halfway from 16 to 1024 in log space
  EXPECT_DOUBLE_EQ(g.rate(128, 16, 16), 1.05e9);
  EXPECT_DOUBLE_EQ(g.rate(16, 16, 1 << 20), 4e9);
  EXPECT_DOUBLE_EQ(g.scaled(0.5).rate(16, 16, 128), 1.25e9);
}

// A kernel pads a dimension below the grid's smallest value to its vectors' width: the time
// at the smallest value holds, so the rate falls with the dimension.
TEST(GemmRates, BelowTheGridsSmallestValueTheTimeIsHeld) {
  const GemmRates g = k_bound_grid();
  EXPECT_DOUBLE_EQ(g.rate(8, 16, 16), 0.5e9);
  EXPECT_DOUBLE_EQ(g.rate(16, 4, 1024), 1e9);
  EXPECT_DOUBLE_EQ(g.rate(16, 16, 10), 1e9 * 10 / 16);
  EXPECT_DOUBLE_EQ(g.rate(1, 1, 1), 1e9 / (16.0 * 16 * 16));
  const double seconds_at_16 = 2.0 * 16 * 16 * 16 / g.rate(16, 16, 16);
  EXPECT_DOUBLE_EQ(2.0 * 16 * 10 * 16 / g.rate(16, 10, 16), seconds_at_16);
}

TEST(GemmRates, AOneValueDimensionIsHeldAboveItsValueAndItsTimeBelow) {
  const GemmRates g({{64, 64, 16, 1e9}, {64, 64, 256, 3e9}});
  EXPECT_DOUBLE_EQ(g.rate(4096, 4096, 64), 2e9);
  EXPECT_DOUBLE_EQ(g.rate(32, 4096, 64), 1e9);
}

TEST(GemmRates, AGridWithAHoleATwiceGivenPointOrABadFigureIsRefused) {
  std::vector<GemmPoint> points = k_bound_grid().points();
  points.pop_back();
  EXPECT_THROW(GemmRates{points}, Error);
  points.push_back(points.front());
  try {
    GemmRates{points};
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("twice"), std::string::npos) << e.what();
  }
  EXPECT_THROW(GemmRates({{16, 16, 16, 0}}), Error);
  EXPECT_THROW(GemmRates({{16, -1, 16, 1e9}}), Error);
  EXPECT_THROW(GemmRates({{16, 16, 16, std::numeric_limits<double>::quiet_NaN()}}), Error);
}

TEST(RateCurve, ASizeIsReadLinearlyInLogSizeAndHeldBeyondTheEnds) {
  const RateCurve curve = {{1e3, 1e9}, {1e6, 4e9}};
  EXPECT_DOUBLE_EQ(rate_at(curve, 1e3, 7), 1e9);
  EXPECT_NEAR(rate_at(curve, std::sqrt(1e9), 7), 2.5e9, 1);
  EXPECT_DOUBLE_EQ(rate_at(curve, 1, 7), 1e9);
  EXPECT_DOUBLE_EQ(rate_at(curve, 1e12, 7), 4e9);
  EXPECT_DOUBLE_EQ(rate_at({}, 1e3, 7), 7);
}

}  // namespace
}  // namespace spmd::partitioner
