// `spmd launch --restarts N`: the loop of torchelastic for MPI jobs. When the job fails, it
// is started again from the newest complete checkpoint of its `--checkpoint DIR`, for the
// steps it has left, on one rank fewer each time while `--min-ranks` allows it (on one
// machine, the ranks still available are the ones asked for).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace spmd::tools {

// The command of a restart: `command` (a `spmd run ... --checkpoint DIR --steps N` line)
// resuming from the newest complete checkpoint in DIR with the steps left. Nullopt when the
// command names no checkpoint directory or it holds no complete checkpoint yet (the
// restart then starts over).
struct Restart {
  std::vector<std::string> command;
  std::string from;
  int64_t steps_left = 0;
};
std::optional<Restart> restart_command(const std::vector<std::string>& command);

// Runs `line` as a child process and waits for it: its exit code (128 + signal when killed).
int run_and_wait(const std::vector<std::string>& line);

}  // namespace spmd::tools
