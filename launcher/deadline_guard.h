// A deadline for a blocking MPI call on a hot path. MPI's own collectives are faster in
// their blocking form than in their nonblocking one: Open MPI 4.1 serves MPI_Allreduce with
// tuned's algorithms and MPI_Iallreduce with libnbc's schedules, and on 2 ranks here the
// first took 114 us for 1 MiB and 2.2 ms for 16 MiB, the second 257 us and 5.9 ms. But a
// blocking call waits forever for a peer that never comes. A DeadlineGuard armed around such
// a call ends the process when the call outlives its deadline, as a Watchdog does
// (watchdog.h), for a few atomic stores rather than a thread of its own.
#pragma once

#include <functional>
#include <string>

#include "launcher/mpi_wait.h"

namespace spmd::launcher {

class DeadlineGuard {
 public:
  // Arms this thread's deadline: unless the guard is destroyed within `timeout`, the
  // deadline handler runs (below) with "<call> (rank R of N) did not finish within T s".
  // `call` must be a string that lives as long as the program (a literal). One guard at a
  // time per thread. Cost: a clock read and four atomic stores; the process's first guard
  // starts the watch thread, which looks at every armed deadline each 20 ms, so a deadline
  // passes 20 ms late at most.
  DeadlineGuard(const char* call, int rank, int size, Seconds timeout);
  // Disarms: the call returned in time. One atomic store.
  ~DeadlineGuard();
  DeadlineGuard(const DeadlineGuard&) = delete;
  DeadlineGuard& operator=(const DeadlineGuard&) = delete;
};

// What a passed deadline does, on the watch thread, given the message above. By default it
// prints "spmd: <message>: a rank failed, stopped, or is not in the same collective" to
// stderr and ends the process with the job-failure code (3), which makes mpirun end the
// job. A handler set here (the `spmd` command's names the ranks that stopped answering)
// must end the process too: the call still holds MPI, and nothing else may use it. An
// empty handler restores the default.
void set_deadline_handler(std::function<void(const std::string& message)> handler);

// The default handler's line, without "spmd: ", for a handler that adds to it.
std::string deadline_passed_text(const std::string& message);

}  // namespace spmd::launcher
