#include "tools/launch_restarts.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <regex>

#include "common/error.h"
#include "runtime/checkpoint_manifest.h"
#include "tools/command_line.h"

namespace spmd::tools {
namespace {

// Sets `--name value`, replacing any the command has.
void set_option(std::vector<std::string>& command, const std::string& name, const std::string& value) {
  if (auto i = find_option(command, name)) {
    command.erase(command.begin() + static_cast<ptrdiff_t>(*i),
                  command.begin() + static_cast<ptrdiff_t>(*i) + (command[*i] == name ? 2 : 1));
  }
  command.push_back(name);
  command.push_back(value);
}

}  // namespace

std::optional<int64_t> final_step(const std::vector<std::string>& command) {
  auto steps_at = find_option(command, "--steps");
  if (!steps_at) return std::nullopt;
  const std::string text = value_at(command, *steps_at, "--steps");
  int64_t steps = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), steps);
  if (error != std::errc() || end != text.data() + text.size() || steps < 1) {
    throw Error("spmd launch: the job's --steps '" + text + "' is not a whole number of steps");
  }
  auto resume_at = find_option(command, "--resume");
  if (!resume_at) return steps;
  // `spmd run --resume` goes on from the newest complete checkpoint, for --steps more.
  const runtime::Located from = runtime::locate_checkpoint(value_at(command, *resume_at, "--resume"));
  return runtime::read_manifest(from.path).step + steps;
}

std::optional<Restart> restart_command(const std::vector<std::string>& command,
                                       std::optional<int64_t> last_step) {
  auto dir_at = find_option(command, "--checkpoint");
  if (!dir_at) return std::nullopt;
  const std::string dir = value_at(command, *dir_at, "--checkpoint");
  if (runtime::complete_checkpoints(dir).empty()) return std::nullopt;
  runtime::Located at = runtime::locate_checkpoint(dir);
  const int64_t done = runtime::read_manifest(at.path).step;
  if (!last_step)
    throw Error("a job restarted from checkpoints needs --steps: the steps it has left are counted from it");
  Restart r{command, at.path, *last_step - done};
  set_option(r.command, "--steps", std::to_string(r.steps_left));
  set_option(r.command, "--resume", dir);
  return r;
}

std::optional<LostRank> lost_rank_in(const std::string& line) {
  static const std::regex noticed(
      R"(noticed that process rank (\d+) with PID \d+ on node (\S+) exited on (signal \d+(?: \([^)]*\))?))");
  std::smatch m;
  if (!std::regex_search(line, m, noticed)) return std::nullopt;
  return LostRank{std::stoi(m[1].str()), m[2].str(), m[3].str()};
}

namespace {

// Writes `chunk` on to stderr and looks for a lost rank in its complete lines; `pending`
// holds a line not yet ended.
void pass_through(const char* chunk, size_t bytes, std::string& pending, JobRun& run) {
  (void)!write(STDERR_FILENO, chunk, bytes);
  pending.append(chunk, bytes);
  for (size_t end; (end = pending.find('\n')) != std::string::npos; pending.erase(0, end + 1)) {
    if (!run.lost) run.lost = lost_rank_in(pending.substr(0, end));
  }
}

}  // namespace

JobRun run_and_watch(const std::vector<std::string>& line) {
  std::vector<char*> argv;
  for (const std::string& word : line) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) throw JobFailure(std::string("cannot make a pipe: ") + std::strerror(errno));
  pid_t child = fork();
  if (child < 0) throw JobFailure(std::string("cannot start '") + line[0] + "': " + std::strerror(errno));
  if (child == 0) {
    dup2(pipe_fds[1], STDERR_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  fcntl(pipe_fds[0], F_SETFL, fcntl(pipe_fds[0], F_GETFL) | O_NONBLOCK);
  JobRun run;
  std::string pending;
  char chunk[4096];
  int status = 0;
  bool exited = false, open = true;
  while (!exited || open) {
    pollfd p{pipe_fds[0], POLLIN, 0};
    if (open && poll(&p, 1, exited ? 0 : 200) > 0) {
      const ssize_t got = read(pipe_fds[0], chunk, sizeof chunk);
      if (got > 0) {
        pass_through(chunk, static_cast<size_t>(got), pending, run);
        continue;
      }
      if (got == 0 || errno != EAGAIN) open = false;
    } else if (exited) {
      break;  // exited and nothing left to read now: a descendant's open stream is not waited for
    }
    if (!exited && !open) {  // the stream closed early: nothing left to watch but the exit
      while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
      }
      exited = true;
    } else if (!exited) {
      const pid_t done = waitpid(child, &status, WNOHANG);
      exited = done == child || (done < 0 && errno != EINTR);
    }
  }
  close(pipe_fds[0]);
  if (!pending.empty()) pass_through("\n", 1, pending, run);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return run;
}

}  // namespace spmd::tools
