#include "launcher/watchdog.h"

#include <cstdio>
#include <cstdlib>

#include <unistd.h>

#include "common/error.h"

namespace spmd::launcher {

Watchdog::Watchdog(std::string what, Seconds timeout) {
  thread_ = std::thread([this, what = std::move(what), timeout] {
    std::unique_lock<std::mutex> lock(mutex_);
    if (disarmed_.wait_for(lock, timeout, [this] { return done_; })) return;
    std::fprintf(stderr, "spmd: %s did not finish within %g s: a rank failed, stopped or never started\n",
                 what.c_str(), timeout.count());
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(kExitJobFailure);  // the call still holds MPI's locks: nothing else may run
  });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
  }
  disarmed_.notify_one();
  thread_.join();
}

}  // namespace spmd::launcher
