// The profile's kernel timings (runtime/profile_kernels.h): adds and a matmul grid that
// contradict themselves are named (doubtful_adds, doubtful_matmuls) and timed again, up to
// kTimingAttempts, by spmd profile and by bind's brief figures alike.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "partitioner/profile.h"
#include "runtime/profile_kernels.h"
#include "tests/runtime/paced_backend.h"

namespace spmd::runtime {
namespace {

using test_backends::Paced;

// Adds timed on a steady machine agree: a CPU's (here: 3.7 us of fixed cost, 4 us at 16 KiB
// an operand, 25 GB/s at 64 MiB) and a GPU's, whose adds are all fixed cost up to MiB.
TEST(DoubtfulAdds, NoneWhereSmallerAddsRunAtLeastAtMemorysSpeed) {
  constexpr double KiB = 1024, MiB = 1024 * KiB;
  EXPECT_EQ(doubtful_adds(3.7e-6, {{48 * KiB, 4e-6}, {3 * MiB, 23e-6}, {48 * MiB, 1.17e-3}, {192 * MiB, 7.96e-3}}), "");
  EXPECT_EQ(doubtful_adds(5e-6, {{48 * KiB, 5e-6}, {3 * MiB, 6e-6}, {48 * MiB, 25e-6}, {192 * MiB, 70e-6}}), "");
  EXPECT_EQ(doubtful_adds(1e-6, {}), "");
}

// This machine's adds while its kernels' threads waited for a virtual CPU the host did not
// run: 5 ms each up to 1 MiB, where memory's 7.4 GB/s says 28 us at 16 KiB.
TEST(DoubtfulAdds, AnAddFarSlowerThanMemoryWouldMakeItIsNamed) {
  constexpr double KiB = 1024, MiB = 1024 * KiB;
  const std::string doubt =
      doubtful_adds(21.8e-6, {{48 * KiB, 5.49e-3}, {3 * MiB, 5.0e-3}, {48 * MiB, 6.66e-3}, {192 * MiB, 27.1e-3}});
  EXPECT_NE(doubt.find("48 KiB took 5.490 ms"), std::string::npos) << doubt;
  // Ten times its share of memory's time and no more: a steady machine's noise is not doubt.
  EXPECT_EQ(doubtful_adds(1e-6, {{1 * MiB, 9e-3}, {100 * MiB, 100e-3}}), "");
  EXPECT_NE(doubtful_adds(1e-6, {{1 * MiB, 11e-3}, {100 * MiB, 100e-3}}), "");
}

// A matmul grid timed on a steady machine agrees: larger shapes at most a few times slower
// (k of 16, n of 1024: 10x below 256x16x16 in one profile here).
TEST(DoubtfulMatmuls, NoneWhereNoLargerShapeRunsFarSlower) {
  const std::vector<partitioner::GemmPoint> steady = {
      {16, 16, 16, 2.4e9}, {256, 16, 16, 30e9}, {256, 1024, 16, 3e9}, {1024, 1024, 1024, 80e9}};
  EXPECT_EQ(doubtful_matmuls(steady), "");
  EXPECT_EQ(doubtful_matmuls({}), "");
}

// A grid timed while a kernel's second thread waited for a PU another process held: a
// 64x16x64 matmul at 0.002 GFLOP/s where the 16x16x64 ran at 7.4.
TEST(DoubtfulMatmuls, ALargerShapeFarSlowerThanASmallerOneIsNamed) {
  const std::vector<partitioner::GemmPoint> stalled = {{16, 16, 64, 7.4e9}, {64, 16, 64, 0.002e9}, {64, 64, 64, 20e9}};
  const std::string doubt = doubtful_matmuls(stalled);
  EXPECT_NE(doubt.find("64x16x64 (m, n, k) ran at 0.002 GFLOP/s"), std::string::npos) << doubt;
  EXPECT_NE(doubt.find("16x16x64's 7.400"), std::string::npos) << doubt;
  // A shape smaller in one dimension is not held to the other's rate.
  EXPECT_EQ(doubtful_matmuls({{1024, 16, 16, 50e9}, {64, 1024, 16, 0.5e9}}), "");
}

// A burst of stalls over the first timing of the adds: they are timed again, the table
// says why, and the figures kept are the steady ones (an add of 16 KiB an operand: 4 us of
// work, 12 GB/s; stalled, 0.01 GB/s).
TEST(MeasureKernels, AddsAtOddsAreTimedAgainAndTheSteadyFiguresKept) {
  Paced backend(1e-6, 1e-9, /*stalled_adds=*/30, /*stall_s=*/5e-3);
  partitioner::Profile p;
  std::string table;
  measure_kernels(backend, p, table, [] {});
  EXPECT_NE(table.find("timed again (attempt 2 of 3): an add moving 48 KiB"), std::string::npos) << table;
  EXPECT_EQ(table.find("warning"), std::string::npos) << table;
  ASSERT_FALSE(p.memory_by_size.empty());
  EXPECT_GT(p.memory_by_size.front().second, 2e9) << table;
}

// Stalls that never end: three attempts, then the last one's figures kept with a warning
// (a machine may really run so), and the matmul grid timed all the same.
TEST(MeasureKernels, AddsStillAtOddsAfterTheLastAttemptAreKeptWithAWarning) {
  Paced backend(1e-6, 1e-9, /*stalled_adds=*/1 << 30, /*stall_s=*/2e-3);
  partitioner::Profile p;
  std::string table;
  int asked = 0;
  measure_kernels(backend, p, table, [] {}, true, [&asked](bool mine) {
    ++asked;
    return mine;
  });
  EXPECT_EQ(asked, kTimingAttempts + 1) << "the adds three times, then the grid, whose matmuls do not stall, once";
  EXPECT_NE(table.find("attempt 3 of 3"), std::string::npos) << table;
  EXPECT_NE(table.find("warning: kept, though after 3 attempts an add moving"), std::string::npos) << table;
  EXPECT_FALSE(p.matmul_by_shape.empty());
}

// Another rank's doubt times this rank's adds again too, so that every rank times its
// matmuls at once; the table says whose.
TEST(MeasureKernels, AnotherRanksDoubtTimesTheAddsAgainHereToo) {
  Paced backend(1e-6, 1e-9);
  partitioner::Profile p;
  std::string table;
  int asked = 0;
  measure_kernels(backend, p, table, [] {}, true, [&asked](bool mine) {
    EXPECT_FALSE(mine);
    return ++asked == 1;
  });
  EXPECT_EQ(asked, 3) << "the adds twice, then the grid";
  EXPECT_NE(table.find("timed again (attempt 2 of 3): another rank's figures were at odds"), std::string::npos) << table;
}

// Bind's brief figures too: adds at odds are timed again, and the steady figures kept.
TEST(MeasureKernelsBriefly, AddsAtOddsAreTimedAgainAndTheSteadyFiguresKept) {
  Paced backend(1e-6, 1e-9, /*stalled_adds=*/30, /*stall_s=*/5e-3);
  partitioner::Profile p;
  partitioner::RateCurve bytes_by_size;
  measure_kernels_briefly(backend, p, bytes_by_size);
  ASSERT_FALSE(bytes_by_size.empty());
  EXPECT_GT(bytes_by_size.front().second, 2e9) << "an add of 16 KiB an operand: 12 GB/s steady, 0.01 GB/s stalled";
}

}  // namespace
}  // namespace spmd::runtime
