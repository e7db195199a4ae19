#include "tools/launch_restarts.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "runtime/checkpoint_manifest.h"

namespace spmd::tools {
namespace {

// The value of `--name V` or `--name=V` in `command`, and where it is; exact names only
// (`--checkpoint` is not `--checkpoint-every`).
std::optional<size_t> find_option(const std::vector<std::string>& command, const std::string& name) {
  for (size_t i = 0; i < command.size(); ++i) {
    if (command[i] == name && i + 1 < command.size()) return i;
    if (command[i].rfind(name + "=", 0) == 0) return i;
  }
  return std::nullopt;
}

std::string value_at(const std::vector<std::string>& command, size_t i, const std::string& name) {
  return command[i] == name ? command[i + 1] : command[i].substr(name.size() + 1);
}

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
  const int64_t steps = std::stoll(value_at(command, *steps_at, "--steps"));
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

int run_and_wait(const std::vector<std::string>& line) {
  std::vector<char*> argv;
  for (const std::string& word : line) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);
  pid_t child = fork();
  if (child < 0) throw JobFailure(std::string("cannot start '") + line[0] + "': " + std::strerror(errno));
  if (child == 0) {
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

}  // namespace spmd::tools
