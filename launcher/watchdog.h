// A deadline for a call that has none of its own. MPI_Init waits for every rank of the job
// to start, MPI_Finalize for every rank to finish, and neither has a nonblocking form: a
// rank that never comes (stopped, or hung before it) would hold the others forever. A
// Watchdog armed around such a call ends this process when the call outlives the deadline.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "launcher/mpi_wait.h"

namespace spmd::launcher {

class Watchdog {
 public:
  // Arms: unless destroyed within `timeout`, the watchdog prints "spmd: <what> did not
  // finish within T s: a rank failed, stopped or never started" to stderr and ends the
  // process with the job-failure code (3), which makes mpirun end the job. Cost: one thread,
  // asleep until the deadline or the disarm.
  Watchdog(std::string what, Seconds timeout);
  // Disarms (the call returned in time) and joins the thread.
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable disarmed_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace spmd::launcher
