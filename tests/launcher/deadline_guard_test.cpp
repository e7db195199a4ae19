// DeadlineGuard (launcher/deadline_guard.h), each case in a child process: a guard that
// outlives its deadline ends the process, one disarmed in time does not.
#include "launcher/deadline_guard.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <unistd.h>

#include "common/error.h"
#include "tests/support/child_process.h"

namespace spmd::launcher {
namespace {

using testing::ChildEnded;
using testing::run_in_child;

TEST(DeadlineGuard, ACallThatOutlivesItsDeadlineEndsTheProcessNamingIt) {
  const ChildEnded e = run_in_child([] {
    const DeadlineGuard guard("MPI_Allreduce", 1, 3, Seconds(0.2));
    std::this_thread::sleep_for(std::chrono::seconds(5));
  });
  EXPECT_EQ(e.code, kExitJobFailure);
  EXPECT_EQ(e.err, "spmd: MPI_Allreduce (rank 1 of 3) did not finish within 0.2 s: a rank failed, stopped, or is "
                   "not in the same collective\n");
  EXPECT_LT(e.seconds, 2.0);
}

TEST(DeadlineGuard, CallsThatReturnInTimeLeaveTheProcessAlone) {
  const ChildEnded e = run_in_child([] {
    for (int i = 0; i < 20; ++i) {
      const DeadlineGuard guard("MPI_Bcast", 0, 2, Seconds(0.1));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // past every deadline, disarmed
  });
  EXPECT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(e.err, "");
}

TEST(DeadlineGuard, EachThreadHasItsOwnDeadline) {
  const ChildEnded e = run_in_child([] {
    const DeadlineGuard guard("MPI_Reduce", 0, 2, Seconds(0.1));
    std::thread([] {
      const DeadlineGuard late("MPI_Alltoall", 0, 2, Seconds(10));
      std::this_thread::sleep_for(std::chrono::seconds(5));
    }).join();
  });
  EXPECT_EQ(e.code, kExitJobFailure);
  EXPECT_NE(e.err.find("spmd: MPI_Reduce (rank 0 of 2) did not finish within 0.1 s"), std::string::npos) << e.err;
}

TEST(DeadlineGuard, AHandlerSaysMoreAndEndsTheProcessItself) {
  const ChildEnded e = run_in_child([] {
    set_deadline_handler([](const std::string& message) {
      std::fprintf(stderr, "handled: %s; rank 2 does not answer\n", deadline_passed_text(message).c_str());
      _exit(7);
    });
    const DeadlineGuard guard("MPI_Allgatherv", 0, 3, Seconds(0.1));
    std::this_thread::sleep_for(std::chrono::seconds(5));
  });
  EXPECT_EQ(e.code, 7);
  EXPECT_EQ(e.err, "handled: MPI_Allgatherv (rank 0 of 3) did not finish within 0.1 s: a rank failed, stopped, or is "
                   "not in the same collective; rank 2 does not answer\n");
}

}  // namespace
}  // namespace spmd::launcher
