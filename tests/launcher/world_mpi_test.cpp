// World's agreements under mpirun (1 to 3 ranks): what they carry, and that every wait has a
// deadline: a rank that never joins fails the others with spmd::JobFailure naming it, and a
// waiting rank leaves its core to others meanwhile.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "common/error.h"
#include "launcher/mpi_wait.h"
#include "launcher/world.h"

namespace spmd::launcher {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// The message of the spmd::JobFailure `action` throws ("" and a failure if it throws none).
template <class Action>
std::string failure_of(Action action) {
  try {
    action();
  } catch (const JobFailure& e) {
    return e.what();
  }
  ADD_FAILURE() << "no spmd::JobFailure thrown";
  return "";
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU seconds this thread has used.
double thread_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

// A World per test on a private duplicate, so a test that times out leaves nothing behind
// for the next; every rank meets at a barrier after it.
class WorldTest : public ::testing::Test {
 protected:
  void TearDown() override { MPI_Barrier(MPI_COMM_WORLD); }
  World world;
};

TEST_F(WorldTest, AllGatherGivesEveryRanksFigureInRankOrder) {
  std::vector<uint64_t> all = world.all_gather(100 + static_cast<uint64_t>(world.rank()));
  ASSERT_EQ(static_cast<int>(all.size()), world.size());
  for (int r = 0; r < world.size(); ++r) EXPECT_EQ(all[r], 100u + static_cast<uint64_t>(r));
}

// Several figures at once: rank r's at [r x n, (r + 1) x n), in the order it gave them.
TEST_F(WorldTest, AllGatherOfSeveralFiguresGivesEachRanksInItsBlock) {
  const uint64_t r0 = 1000 * static_cast<uint64_t>(world.rank());
  const std::vector<uint64_t> mine = {r0 + 1, r0 + 2, r0 + 3};
  const std::vector<uint64_t> all = world.all_gather(mine, "three figures");
  ASSERT_EQ(all.size(), 3u * static_cast<size_t>(world.size()));
  for (int r = 0; r < world.size(); ++r) {
    for (uint64_t i = 0; i < 3; ++i) EXPECT_EQ(all[3 * static_cast<size_t>(r) + i], 1000u * r + i + 1) << r << " " << i;
  }
}

TEST_F(WorldTest, OnLeadTellsEveryRankTheKindOfFailure) {
  EXPECT_NO_THROW(world.on_lead([] {}));
  EXPECT_EQ(failure_of([&] { world.on_lead([] { throw JobFailure("disk full"); }); }), "disk full");
  try {
    world.on_lead([] { throw Error("bad plan"); });
    ADD_FAILURE() << "no spmd::Error thrown";
  } catch (const JobFailure&) {
    ADD_FAILURE() << "an Error became a JobFailure";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "bad plan");
  }
}

TEST_F(WorldTest, TheTimeoutComesFromTheEnvironment) {
  setenv("SPMD_COLLECTIVE_TIMEOUT_S", "2.5", 1);
  EXPECT_EQ(World().timeout().count(), 2.5);
  unsetenv("SPMD_COLLECTIVE_TIMEOUT_S");
  EXPECT_EQ(World().timeout().count(), 60.0);
}

// Rank 1 never joins the all-gather: rank 0 fails at the deadline naming it; the other
// ranks, left without rank 0's answer, fail at theirs.
TEST_F(WorldTest, ARankThatNeverJoinsAnAllGatherFailsTheOthersAtTheDeadline) {
  if (world.size() < 2) GTEST_SKIP() << "needs 2 ranks";
  world.set_timeout(std::chrono::seconds(1));
  if (world.rank() == 1) return;
  const Clock::time_point start = Clock::now();
  const std::string message = failure_of([&] { world.all_gather(7, "the test's figure"); });
  EXPECT_LT(seconds_since(start), 5.0);
  EXPECT_GE(seconds_since(start), 0.9);
  EXPECT_THAT(message, HasSubstr("all-gather of the test's figure"));
  if (world.lead()) {
    EXPECT_THAT(message, HasSubstr("rank 1 did not arrive within 1 s (rank 0 of"));
  } else {
    EXPECT_THAT(message, HasSubstr("rank 0 did not send the result within 1 s"));
  }
}

TEST_F(WorldTest, ARankZeroThatNeverReportsFailsTheOthersAtTheDeadline) {
  if (world.size() < 2) GTEST_SKIP() << "needs 2 ranks";
  world.set_timeout(std::chrono::milliseconds(500));
  if (world.lead()) return;
  const std::string message = failure_of([&] { world.on_lead([] {}, "writing the plan"); });
  EXPECT_THAT(message, HasSubstr("writing the plan: rank 0 did not report within 0.5 s"));
}

// While it waits for a peer that does not come, a rank polls with back-off: well under a
// core (a spinning wait would use the whole second).
TEST_F(WorldTest, AWaitingRankLeavesItsCoreToOthers) {
  if (world.size() < 2) GTEST_SKIP() << "needs 2 ranks";
  world.set_timeout(std::chrono::seconds(1));
  if (world.rank() == 1) return;
  const double cpu_before = thread_cpu_seconds();
  const Clock::time_point start = Clock::now();
  failure_of([&] { world.all_gather(7); });
  const double cpu = thread_cpu_seconds() - cpu_before, wall = seconds_since(start);
  EXPECT_LT(cpu, 0.2 * wall) << cpu << " s of CPU in " << wall << " s of waiting";
}

// A thread that polls while it waits (a rank with a core of its own) still gives up at the
// deadline, and backs off once the wait is a long one: a peer that never comes costs it
// 10 ms of polling, not the whole second.
TEST_F(WorldTest, APollingRankStillMeetsItsDeadlineAndBacksOffOnceTheWaitIsLong) {
  if (world.size() < 2) GTEST_SKIP() << "needs 2 ranks";
  world.set_timeout(std::chrono::seconds(1));
  if (world.rank() == 1) return;
  set_idle_wait(IdleWait::poll);
  const double cpu_before = thread_cpu_seconds();
  const Clock::time_point start = Clock::now();
  const std::string message = failure_of([&] { world.all_gather(7, "the test's figure"); });
  const double cpu = thread_cpu_seconds() - cpu_before, wall = seconds_since(start);
  set_idle_wait(IdleWait::back_off);
  EXPECT_THAT(message, HasSubstr("all-gather of the test's figure"));
  EXPECT_GE(wall, 0.9);
  EXPECT_LT(wall, 5.0);
  EXPECT_LT(cpu, 0.2 * wall) << cpu << " s of CPU in " << wall << " s of waiting";
}

}  // namespace
}  // namespace spmd::launcher
