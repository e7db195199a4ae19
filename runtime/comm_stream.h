// A communication stream: one thread that runs the work handed to it (the collectives of a
// step) in the order given, while the caller goes on computing, as a CUDA stream or the work
// queue of PyTorch's process groups. The caller waits for a ticket only where it reads a
// result; the communicator must allow calls from another thread, one at a time
// (collectives::Communicator::callable_from_another_thread), and the caller must not use it
// while work is queued.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace spmd::runtime {

class CommStream {
 public:
  CommStream();
  // Waits for the work running now (each has its collective deadline); drops the rest.
  ~CommStream();
  CommStream(const CommStream&) = delete;
  CommStream& operator=(const CommStream&) = delete;

  // Queues `work`; returns its ticket (1, 2, ... in order). O(1).
  std::int64_t submit(std::function<void()> work);
  // Blocks until every work up to `ticket` has run. The first work that threw makes every
  // wait from then on rethrow its error (the works after it are skipped: peers that saw it
  // fail will not join them).
  void wait(std::int64_t ticket);
  void wait_all() { wait(submitted_); }

 private:
  void loop();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> queue_;
  std::int64_t submitted_ = 0, done_ = 0;
  std::exception_ptr error_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest is ready
};

}  // namespace spmd::runtime
