// The one back-off loop of spmd's waits: wait_all polls MPI requests with it, the
// node-shared flags of collectives/mpi poll peers' counters with it. Its schedule, and why
// these figures, are in mpi_wait.h (wait_all).
#pragma once

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "launcher/mpi_wait.h"

namespace spmd::launcher {

namespace poll_schedule {
inline constexpr unsigned kSpinPolls = 1024;
inline constexpr unsigned kYieldPolls = 1024;
inline constexpr unsigned kPollsPerClockRead = 64;
inline constexpr std::chrono::microseconds kFirstSleep{1};
inline constexpr std::chrono::microseconds kLongestShortSleep{100};
inline constexpr std::chrono::milliseconds kLongWait{10};
inline constexpr std::chrono::microseconds kLongestSleep{1000};
}  // namespace poll_schedule

// Calls `ready()` until it returns true (then true) or `timeout` passes (then false), on
// wait_all's schedule under this thread's idle_wait(): spin (not where the node is
// oversubscribed), yield, then sleep, growing.
// A template: no std::function on a path of a few hundred nanoseconds.
template <class Ready>
bool poll_until(const Ready& ready, Seconds timeout) {
  using namespace poll_schedule;
  using Clock = std::chrono::steady_clock;
  Clock::time_point deadline{}, long_wait{};  // set at the first clock read: a short wait reads none
  std::chrono::microseconds sleep = kFirstSleep, longest_sleep = kLongestShortSleep;
  bool polling = idle_wait() == IdleWait::poll;  // until the wait is a long one
  const unsigned spins = node_oversubscribed() ? 0 : kSpinPolls;
  for (unsigned polls = 1;; ++polls) {
    if (ready()) return true;
    if (polls <= spins) {
      if (polls % kPollsPerClockRead != 0) continue;
    } else if (polling || polls <= spins + kYieldPolls) {
      sched_yield();
    } else {
      std::this_thread::sleep_for(sleep);
      sleep = std::min(sleep * 2, longest_sleep);
    }
    const Clock::time_point now = Clock::now();
    if (deadline == Clock::time_point{}) {
      deadline = now + std::chrono::duration_cast<Clock::duration>(timeout);
      long_wait = now + kLongWait;
    } else if (now > deadline) {
      return false;
    } else if (now > long_wait) {
      longest_sleep = kLongestSleep;
      polling = false;
    }
  }
}

}  // namespace spmd::launcher
