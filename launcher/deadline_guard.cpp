#include "launcher/deadline_guard.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include <unistd.h>

#include "common/error.h"

namespace spmd::launcher {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kLookEvery{20};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// One thread's deadline, 0 while disarmed. Atomics throughout: the watch thread reads a slot
// while its thread may disarm and arm it again.
struct Slot {
  std::atomic<int64_t> deadline_ns{0};
  std::atomic<const char*> call{nullptr};
  std::atomic<int> rank{0}, size{1};
  std::atomic<double> timeout_s{0};
};

std::string message_of(const char* call, int rank, int size, double timeout_s) {
  char text[256];
  std::snprintf(text, sizeof text, "%s (rank %d of %d) did not finish within %g s", call, rank, size, timeout_s);
  return text;
}

[[noreturn]] void end_process(const std::string& message) {
  std::fprintf(stderr, "spmd: %s\n", deadline_passed_text(message).c_str());
  std::fflush(stdout);
  std::fflush(stderr);
  _exit(kExitJobFailure);  // the call still holds MPI's locks: nothing else may run
}

// The handler set_deadline_handler sets, apart from the watch: setting one starts no thread.
struct Handler {
  std::mutex mutex;
  std::function<void(const std::string&)> handler;
  static Handler& instance() {
    static Handler h;
    return h;
  }
  std::function<void(const std::string&)> get() {
    std::lock_guard<std::mutex> lock(mutex);
    return handler;
  }
};

// The process's armed deadlines and the thread that looks at them.
class Watch {
 public:
  static Watch& instance() {
    static Watch watch;
    return watch;
  }
  void add(Slot* s) {
    std::lock_guard<std::mutex> lock(mutex_);
    slots_.push_back(s);
  }
  void remove(Slot* s) {
    std::lock_guard<std::mutex> lock(mutex_);
    slots_.erase(std::remove(slots_.begin(), slots_.end(), s), slots_.end());
  }

 private:
  Watch() : thread_([this] { loop(); }) {}
  ~Watch() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

  // A deadline that passed, its message; empty when none did. Under the lock.
  std::string passed() const {
    const int64_t now = now_ns();
    for (const Slot* s : slots_) {
      const int64_t deadline = s->deadline_ns.load(std::memory_order_acquire);
      if (deadline == 0 || now < deadline) continue;
      const std::string message = message_of(s->call.load(), s->rank.load(), s->size.load(), s->timeout_s.load());
      if (s->deadline_ns.load(std::memory_order_acquire) == deadline) return message;  // not re-armed meanwhile
    }
    return "";
  }

  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, kLookEvery, [this] { return stop_; })) {
      const std::string message = passed();
      if (message.empty()) continue;
      lock.unlock();
      const std::function<void(const std::string&)> handler = Handler::instance().get();
      if (handler) handler(message);
      end_process(message);  // a handler that returned
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::vector<Slot*> slots_;
  std::thread thread_;  // last: starts once the rest is ready
};

// This thread's slot, registered with the watch from its first guard to its end.
struct ThreadSlot {
  Slot slot;
  ThreadSlot() { Watch::instance().add(&slot); }
  ~ThreadSlot() { Watch::instance().remove(&slot); }
};
thread_local ThreadSlot this_thread;

}  // namespace

DeadlineGuard::DeadlineGuard(const char* call, int rank, int size, Seconds timeout) {
  Slot& s = this_thread.slot;
  s.call.store(call, std::memory_order_relaxed);
  s.rank.store(rank, std::memory_order_relaxed);
  s.size.store(size, std::memory_order_relaxed);
  s.timeout_s.store(timeout.count(), std::memory_order_relaxed);
  s.deadline_ns.store(now_ns() + static_cast<int64_t>(timeout.count() * 1e9), std::memory_order_release);
}

DeadlineGuard::~DeadlineGuard() { this_thread.slot.deadline_ns.store(0, std::memory_order_release); }

void set_deadline_handler(std::function<void(const std::string& message)> handler) {
  Handler& h = Handler::instance();
  std::lock_guard<std::mutex> lock(h.mutex);
  h.handler = std::move(handler);
}

std::string deadline_passed_text(const std::string& message) {
  return message + ": a rank failed, stopped, or is not in the same collective";
}

}  // namespace spmd::launcher
