// `spmd launch -np N [--map-by gpu|numa|package|core] [--dry-run] [mpirun options] -- CMD`:
// build the mpirun line that binds each rank to its device, print it, and run it.
// `--restarts N [--min-ranks M]`: when the job fails, start it again from its newest complete
// checkpoint (tools/launch_restarts.h), up to N times.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "launcher/launch_line.h"
#include "tools/commands.h"
#include "tools/launch_restarts.h"
#include "tools/validators.h"

namespace spmd::tools {
namespace {

#ifndef SPMD_MPIEXEC
#define SPMD_MPIEXEC "mpirun"
#endif

struct LaunchOptions {
  launcher::LaunchRequest request;
  bool dry_run = false;
  std::string mpirun = SPMD_MPIEXEC;
  int restarts = 0;
  int min_ranks = 0;  // 0: as many as asked for
};

// CLI11 cannot name an option "-np" (mpirun's spelling), so the subcommand takes its
// arguments raw and they are parsed here: ours by name, the rest passed on to mpirun in
// order, everything after "--" the command.
LaunchOptions parse_launch_arguments(std::vector<std::string> args) {
  auto separator = std::find(args.begin(), args.end(), "--");
  LaunchOptions options;
  options.request.command.assign(separator == args.end() ? separator : separator + 1, args.end());
  std::vector<std::string> ours(args.begin(), separator);
  for (std::string& arg : ours)
    if (arg == "-np") arg = "--np";
  CLI::App parser{"spmd launch"};
  parser.allow_extras();
  std::string map_by;
  parser.add_option("-n,--np", options.request.ranks)->required()->check(kRankCount);
  parser.add_option("--map-by", map_by)->check(CLI::IsMember({"gpu", "numa", "package", "core"}));
  parser.add_flag("--dry-run", options.dry_run);
  parser.add_option("--mpirun", options.mpirun);
  parser.add_option("--restarts", options.restarts)->check(count_check(0, 1 << 20));
  parser.add_option("--min-ranks", options.min_ranks)->check(kRankCount);
  std::reverse(ours.begin(), ours.end());  // CLI11 takes a vector of arguments last first
  parser.parse(ours);
  if (!map_by.empty()) options.request.map_by = launcher::parse_device_kind(map_by);
  options.request.mpirun_args = parser.remaining();
  return options;
}

// "spmd" in the command means this very binary, so that ranks run the same build even
// when it is not on PATH.
void resolve_self(std::vector<std::string>& command) {
  std::error_code error;
  auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!command.empty() && command[0] == "spmd" && !error) command[0] = self.string();
}

[[noreturn]] void exec(const std::vector<std::string>& line) {
  std::vector<char*> argv;
  for (const std::string& word : line) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  throw Error("cannot run '" + line[0] + "': " + std::strerror(errno));
}

// Runs the job; after a failure, again from its newest complete checkpoint on one rank
// fewer while the minimum allows, until it succeeds or the restarts run out. Exits with
// the last run's code. A user's mistake (exit 2: a bad flag, model or file) is not a
// failure a restart can mend: it ends the launch at once.
[[noreturn]] void run_with_restarts(LaunchOptions options, std::vector<std::string> line) {
  const std::vector<std::string> original = options.request.command;
  const int min_ranks = options.min_ranks > 0 ? options.min_ranks : options.request.ranks;
  const std::optional<int64_t> last_step = final_step(original);  // before the job moves its checkpoints on
  JobRun run = run_and_watch(line);
  for (int attempt = 1; run.code != 0 && run.code != kExitUserError && attempt <= options.restarts; ++attempt) {
    std::optional<Restart> restart = restart_command(original, last_step);
    if (restart && restart->steps_left <= 0) std::exit(0);  // failed after its last save
    options.request.command = restart ? restart->command : original;
    options.request.ranks = std::max(min_ranks, options.request.ranks - 1);
    std::cout << "spmd launch: the job failed (exit " << run.code << ")"
              << (run.lost ? ": rank " + std::to_string(run.lost->rank) + " was lost on node " + run.lost->node + " (" +
                                 run.lost->how + ")"
                           : std::string())
              << "; restart " << attempt << " of "
              << options.restarts << " on " << options.request.ranks << " ranks"
              << (restart ? " from " + restart->from : std::string(", from the start")) << std::endl;
    line = launcher::mpirun_command(options.request, launcher::local_node_shape(), geteuid() == 0, options.mpirun);
    std::cout << launcher::shell_line(line) << std::endl;
    run = run_and_watch(line);
  }
  std::exit(run.code);
}

void run_launch(std::vector<std::string> args) {
  LaunchOptions options;
  try {
    options = parse_launch_arguments(std::move(args));
  } catch (const CLI::ParseError& e) {
    throw Error("spmd launch: " + std::string(e.what()) +
                " (usage: spmd launch -np N [--map-by gpu|numa|package|core] [--dry-run] "
                "[mpirun options] -- spmd run ...)");
  }
  resolve_self(options.request.command);
  std::vector<std::string> line =
      launcher::mpirun_command(options.request, launcher::local_node_shape(), geteuid() == 0, options.mpirun);
  std::cout << launcher::shell_line(line) << std::endl;
  if (options.dry_run) return;
  if (options.restarts == 0) exec(line);
  run_with_restarts(options, line);
}

}  // namespace

void add_launch_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("launch", "Build, print and run the mpirun command line");
  cmd->prefix_command();  // everything after "launch" reaches the callback as given
  cmd->footer(
      "Usage: spmd launch -np N [--map-by gpu|numa|package|core] [--dry-run] [--mpirun PATH]\n"
      "                   [mpirun options] -- spmd run ...\n"
      "  --map-by   what one rank drives; each rank is bound to its cores\n"
      "             (default: gpu where this node has GPUs, else numa)\n"
      "  --dry-run  print the mpirun command line, do not run it\n"
      "  --restarts N  when the job fails, start it again from the newest complete checkpoint\n"
      "             of its --checkpoint DIR for the steps left, up to N times\n"
      "  --min-ranks M  each restart runs on one rank fewer, down to M (default: -np)\n"
      "  Options spmd does not know are passed on to mpirun.");
  cmd->callback([cmd] { run_launch(cmd->remaining()); });
}

}  // namespace spmd::tools
