#include "tools/stop_signal.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>

#include <unistd.h>

#include "common/error.h"

namespace spmd::tools {
namespace {

std::atomic<int64_t> g_step{-1};  // -1: setting up, before the first step
std::atomic<launcher::PeerWatch*> g_watch{nullptr};
int g_rank = 0;
char g_failure[2048];                   // the rank's own failure line, when it has one
std::atomic<size_t> g_failure_size{0};  // its bytes, stored after them
std::atomic<bool> g_said{false};        // printed already

// Appends the decimal digits of `v` to `out` at `at`; no allocation, no locale.
size_t put_number(char* out, size_t at, int64_t v) {
  char digits[24];
  size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0 && n < sizeof digits);
  while (n > 0) out[at++] = digits[--n];
  return at;
}

size_t put_text(char* out, size_t at, const char* text) {
  const size_t n = std::strlen(text);
  std::memcpy(out + at, text, n);
  return at + n;
}

void on_term(int) {
  if (g_said.load()) _exit(kExitJobFailure);
  if (const size_t n = g_failure_size.load(); n > 0) {
    ssize_t ignored = write(STDERR_FILENO, g_failure, n);
    (void)ignored;
    _exit(kExitJobFailure);
  }
  launcher::PeerWatch* watch = g_watch.load();
  launcher::PeerWatch::Lost lost[4];
  size_t found = 0;
  if (watch) {
    watch->mark_leaving();  // first: a peer whose connection to us ends must not take us for lost
    // The news of a loss travels about as fast as mpirun's order to stop, which sends
    // SIGKILL a second after SIGTERM: wait a little for it.
    found = watch->lost(lost, 4, 0.3);
  }
  char message[1024];  // four lost ranks with hosts of 63 characters fit
  size_t at = put_text(message, 0, "spmd: rank ");
  at = put_number(message, at, g_rank);
  const int64_t step = g_step.load(std::memory_order_relaxed);
  if (step < 0) {
    at = put_text(message, at, " stopped by mpirun while setting up");
  } else {
    at = put_text(message, at, " stopped by mpirun at step ");
    at = put_number(message, at, step);
  }
  if (found == 0) {
    at = put_text(message, at, ": another rank was lost or the job was cancelled (mpirun names the rank)\n");
  }
  for (size_t i = 0; i < found; ++i) {
    at = put_text(message, at, i == 0 ? ": rank " : ", rank ");
    at = put_number(message, at, lost[i].rank);
    at = put_text(message, at, " (pid ");
    at = put_number(message, at, lost[i].pid);
    if (lost[i].this_host) {
      at = put_text(message, at, ", on this host)");
    } else {
      at = put_text(message, at, ", on host ");
      at = put_text(message, at, lost[i].host);
      at = put_text(message, at, ")");
    }
    at = put_text(message, at, lost[i].stopped ? " stopped answering" : " was lost");
  }
  if (found > 0) at = put_text(message, at, "\n");
  ssize_t ignored = write(STDERR_FILENO, message, at);
  (void)ignored;
  _exit(kExitJobFailure);
}

}  // namespace

void say_why_when_stopped(int rank, launcher::PeerWatch* watch) {
  g_rank = rank;
  g_watch.store(watch);
  struct sigaction action {};
  action.sa_handler = on_term;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
}

void stop_watching_peers() {
  if (launcher::PeerWatch* watch = g_watch.exchange(nullptr)) watch->mark_leaving();
}

void note_step(int64_t step) { g_step.store(step, std::memory_order_relaxed); }
int64_t noted_step() { return g_step.load(std::memory_order_relaxed); }

std::string failure_line(int rank, const std::string& what) {
  return "spmd: job failed on rank " + std::to_string(rank) + ": " + what;
}

void note_failure(const std::string& line) {
  if (g_failure_size.load() > 0) return;  // the first stands: the handler may be reading it
  const size_t n = std::min(line.size(), sizeof g_failure - 1);
  std::memcpy(g_failure, line.data(), n);
  g_failure[n] = '\n';
  g_failure_size.store(n + 1);
}

void failure_said() { g_said.store(true); }

}  // namespace spmd::tools
