// What a rank of `spmd run` prints when mpirun ends it (tools/stop_signal.h), in a child
// process that is sent SIGTERM: its own failure once it has one, nothing more once said.
#include <gtest/gtest.h>

#include <csignal>
#include <string>

#include "common/error.h"
#include "tests/support/child_process.h"
#include "tools/stop_signal.h"

namespace spmd::tools {
namespace {

using Ended = testing::ChildEnded;

// Forks a child that runs `before` with the handler installed (rank 2, no watch), then
// raises SIGTERM; its exit code and what it wrote to stderr.
Ended terminated_after(void (*before)()) {
  return testing::run_in_child([before] {
    say_why_when_stopped(2, nullptr);
    before();
    raise(SIGTERM);  // the handler exits
  });
}

TEST(StopSignal, ARankEndedAfterItsOwnFailurePrintsThatFailure) {
  const Ended e = terminated_after([] {
    note_step(162);
    note_failure(failure_line(2, "recv from rank 1 timed out; rank 1 (pid 7, on this host) does not answer"));
  });
  EXPECT_EQ(e.code, kExitJobFailure);
  EXPECT_EQ(e.err, "spmd: job failed on rank 2: recv from rank 1 timed out; rank 1 (pid 7, on this host) does not "
                   "answer\n");
}

TEST(StopSignal, ARankEndedAfterPrintingItsFailurePrintsNothingMore) {
  const Ended e = terminated_after([] {
    note_failure(failure_line(2, "a timeout"));
    failure_said();
  });
  EXPECT_EQ(e.code, kExitJobFailure);
  EXPECT_EQ(e.err, "");
}

TEST(StopSignal, ARankEndedWithoutAFailureOfItsOwnSaysMpirunStoppedIt) {
  const Ended e = terminated_after([] { note_step(5); });
  EXPECT_EQ(e.code, kExitJobFailure);
  EXPECT_EQ(e.err, "spmd: rank 2 stopped by mpirun at step 5: another rank was lost or the job was cancelled "
                   "(mpirun names the rank)\n");
}

}  // namespace
}  // namespace spmd::tools
