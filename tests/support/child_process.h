// Runs a test's body in a forked child with its stderr captured: for what a process says,
// and the code it exits with, when it ends itself (a signal handler, a passed deadline).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>

namespace spmd::testing {

struct ChildEnded {
  int code = -1;     // its exit code; -1 where it did not exit (a signal)
  std::string err;   // what it wrote to stderr
  double seconds = 0;
};

// Forks, runs `body` in the child (which then exits 0 unless `body` ended it) and waits for
// it. Fork before any thread of the test's own: the child has only the forking thread.
inline ChildEnded run_in_child(const std::function<void()>& body) {
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
  ChildEnded out;
  char buffer[4096];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) out.err.append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  out.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace spmd::testing
