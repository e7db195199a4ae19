#include "runtime/comm_stream.h"

#include "launcher/mpi_wait.h"

namespace spmd::runtime {

CommStream::CommStream() : thread_([this] { loop(); }) {}

CommStream::~CommStream() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  changed_.notify_all();
  thread_.join();
}

std::int64_t CommStream::submit(std::function<void()> work) {
  std::int64_t ticket;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(work));
    ticket = ++submitted_;
  }
  changed_.notify_all();
  return ticket;
}

void CommStream::wait(std::int64_t ticket) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return done_ >= ticket || error_; });
  if (error_) std::rethrow_exception(error_);
}

void CommStream::loop() {
  // This thread shares its core with the compute: its waits must back off, not poll
  // inside MPI's blocking calls (MPI's own collectives run nonblocking here).
  launcher::set_blocking_waits(false);
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::function<void()> work = std::move(queue_.front());
    queue_.pop_front();
    if (!error_) {
      lock.unlock();
      std::exception_ptr failed;
      try {
        work();
      } catch (...) {
        failed = std::current_exception();
      }
      lock.lock();
      if (failed && !error_) error_ = failed;
    }
    ++done_;
    changed_.notify_all();
  }
}

}  // namespace spmd::runtime
