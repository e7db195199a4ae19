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

// The step a job's command ends at: its `--steps` more than the step of the checkpoint its
// `--resume` starts from (0 without one); nullopt without `--steps`. Read before the job
// first runs: `--resume` may name the directory the job saves into, whose newest
// checkpoint then moves on. Throws spmd::Error when the checkpoint to resume from cannot
// be read. Cost: one manifest read, with --resume.
std::optional<int64_t> final_step(const std::vector<std::string>& command);

// The command of a restart: `command` (a `spmd run ... --checkpoint DIR --steps N` line)
// resuming from the newest complete checkpoint in DIR with the steps left to `last_step`
// (final_step of the command as first run). Nullopt when the command names no checkpoint
// directory or it holds no complete checkpoint yet (the restart then starts over). Throws
// spmd::Error when there is a checkpoint but no `last_step` to count from.
struct Restart {
  std::vector<std::string> command;
  std::string from;
  int64_t steps_left = 0;
};
std::optional<Restart> restart_command(const std::vector<std::string>& command,
                                       std::optional<int64_t> last_step);

// A rank the job lost, as mpirun reports it ("mpirun noticed that process rank 2 with PID
// 4242 on node n3 exited on signal 9 (Killed)."; prterun says the same): which rank, on
// which node, and how it ended. Wherever the rank ran, mpirun knows, so this names a rank
// lost on another host too.
struct LostRank {
  int rank = -1;
  std::string node, how;  // "n3", "signal 9 (Killed)"
};
std::optional<LostRank> lost_rank_in(const std::string& line);

// Runs `line` (an mpirun command) as a child process and waits for it, passing its standard
// error through line by line: its exit code (128 + signal when killed), and the rank it
// reported lost, if it did. The child's exit is polled, so a descendant that keeps the
// stream open cannot hold the wait.
struct JobRun {
  int code = 0;
  std::optional<LostRank> lost;
};
JobRun run_and_watch(const std::vector<std::string>& line);

}  // namespace spmd::tools
