// Timing collectives (collectives/timing.h): warm-up runs before the timed ones, as many as
// kWarmUpRuns unless they already took kWarmUpSeconds, and every rank stops warming up
// with the others, since each run counts as the slowest rank's time.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "collectives/timing.h"
#include "mpi_fixture.h"

namespace spmd::collectives::testing {
namespace {

using TimingTest = MpiTest;

// A run that counts its runs and preparations, and sleeps `sleep` on rank 0 only (the
// slowest rank's time is every rank's).
struct CountedRun {
  std::shared_ptr<int> runs = std::make_shared<int>(0), prepared = std::make_shared<int>(0);
  CollectiveRun run(int rank, std::chrono::milliseconds sleep) const {
    return {[p = prepared] { ++*p; }, [r = runs, rank, sleep] {
              ++*r;
              if (rank == 0 && sleep.count() > 0) std::this_thread::sleep_for(sleep);
            }};
  }
};

// The same count on every rank, and that count.
int agreed(MpiCommunicator& comm, int count) {
  float negated_least = -static_cast<float>(count), most = static_cast<float>(count);
  comm.native_all_reduce({&negated_least, 1}, ReduceOp::max);
  comm.native_all_reduce({&most, 1}, ReduceOp::max);
  EXPECT_EQ(-negated_least, most) << "the ranks ran a collective a different number of times";
  return count;
}

TEST_F(TimingTest, AQuickCollectiveRunsItsWarmUpsThenItsTimedRunsEachPrepared) {
  const CountedRun counted;
  time_collective(comm(), counted.run(rank(), std::chrono::milliseconds(0)), 5);
  EXPECT_EQ(agreed(comm(), *counted.runs), kWarmUpRuns + 5);
  EXPECT_EQ(*counted.prepared, kWarmUpRuns + 5);
}

TEST_F(TimingTest, AWarmUpStopsOnceItTookItsSecondsOnEveryRankAlike) {
  // 20 ms a run on rank 0: past kWarmUpSeconds (25 ms) after two runs, or one if slow.
  const CountedRun counted;
  const double seconds = time_collective(comm(), counted.run(rank(), std::chrono::milliseconds(20)), 1);
  const int warm_ups = agreed(comm(), *counted.runs) - 1;
  EXPECT_GE(warm_ups, 1);
  EXPECT_LE(warm_ups, 2);
  EXPECT_GE(seconds, 0.020);  // rank 0's time on every rank
}

TEST_F(TimingTest, InterleavedRunsWarmUpByTheirAverageRun) {
  // One run of 40 ms and one quick: 20 ms a run on average, past 25 ms after two rounds
  // (one if slow); the quick one warms up as often as the slow one.
  const CountedRun slow, quick;
  const std::vector<double> medians = time_interleaved(
      comm(), {slow.run(rank(), std::chrono::milliseconds(40)), quick.run(rank(), std::chrono::milliseconds(0))}, 1);
  const int warm_ups = agreed(comm(), *slow.runs) - 1;
  EXPECT_EQ(agreed(comm(), *quick.runs) - 1, warm_ups);
  EXPECT_GE(warm_ups, 1);
  EXPECT_LE(warm_ups, 2);
  ASSERT_EQ(medians.size(), 2u);
  EXPECT_GE(medians[0], 0.040);
  EXPECT_LT(medians[1], 0.040);
}

}  // namespace
}  // namespace spmd::collectives::testing
