// DeadlineGuard (launcher/deadline_guard.h), each case in a child process: a guard that
// outlives its deadline ends the process, one disarmed in time does not.
#include "launcher/deadline_guard.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"

namespace spmd::launcher {
namespace {

struct Ended {
  int code = -1;
  std::string err;
  double seconds = 0;
};

// Runs `body` in a child with stderr captured; its exit code, what it wrote and how long it took.
Ended in_child(void (*body)()) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  const auto start = std::chrono::steady_clock::now();
  const pid_t child = fork();
  if (child == 0) {
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    body();
    _exit(0);
  }
  close(fds[1]);
  Ended out;
  char buffer[4096];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) out.err.append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  out.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

TEST(DeadlineGuard, ACallThatOutlivesItsDeadlineEndsTheProcessNamingIt) {
  const Ended e = in_child([] {
    const DeadlineGuard guard("MPI_Allreduce", 1, 3, Seconds(0.2));
    std::this_thread::sleep_for(std::chrono::seconds(5));
  });
  EXPECT_EQ(e.code, kExitJobFailure);
  EXPECT_EQ(e.err, "spmd: MPI_Allreduce (rank 1 of 3) did not finish within 0.2 s: a rank failed, stopped, or is "
                   "not in the same collective\n");
  EXPECT_LT(e.seconds, 2.0);
}

TEST(DeadlineGuard, CallsThatReturnInTimeLeaveTheProcessAlone) {
  const Ended e = in_child([] {
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
  const Ended e = in_child([] {
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
  const Ended e = in_child([] {
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
