// `spmd`: one binary, one subcommand per task, each a thin client of the library: it parses
// flags, calls the library and prints. Every rank runs the same command line. Exit codes
// (common/error.h), the same on every rank: 0 success, 2 a user's mistake, 3 a failure of
// the job (a lost or hung peer, an MPI or file system error), 4 an internal error.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "launcher/world.h"
#include "tools/command_line.h"
#include "tools/commands.h"
#include "tools/stop_signal.h"

namespace {

// The value of `spmd run --timeout` when it is a deadline a wait takes: the deadline of
// joining the job (MPI_Init), which starts before the flags are parsed. Anything else is
// left to the parser, which refuses it in one line (another command has no such flag).
std::optional<spmd::launcher::Seconds> timeout_flag(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) != "run") return std::nullopt;
  const std::vector<std::string> args(argv + 1, argv + argc);
  const std::optional<size_t> at = spmd::tools::find_option(args, "--timeout");
  if (!at) return std::nullopt;
  return spmd::launcher::parse_timeout(spmd::tools::value_at(args, *at, "--timeout"));
}

// A parser's complaint as one line, with where to read more: CLI11's own runs over two.
std::string parse_error_line(const CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const CLI::App* command : app.get_subcommands([](const CLI::App*) { return true; })) {
      known = known || command->get_name() == argv[1];
    }
    if (!known) return std::string("unknown command '") + argv[1] + "' (spmd --help lists them)";
    return std::string(e.what()) + " (spmd " + argv[1] + " --help)";
  }
  return std::string(e.what()) + " (spmd --help)";
}

}  // namespace

int main(int argc, char** argv) {
  // `spmd launch` starts mpirun itself: a singleton MPI process around it would confuse it.
  const bool launching = argc > 1 && std::string_view(argv[1]) == "launch";
  std::optional<spmd::launcher::World> world;
  try {
    if (!launching) world.emplace(MPI_COMM_WORLD, timeout_flag(argc, argv));
  } catch (const spmd::Error& e) {
    // A bad SPMD_COLLECTIVE_TIMEOUT_S, or a rank that never joined: every rank is told the
    // same (the environment is the job's), or is ended with the job.
    const bool failure = dynamic_cast<const spmd::JobFailure*>(&e) != nullptr;
    std::fprintf(stderr, "spmd: %s: %s\n", failure ? "job failed" : "error", e.what());
    const int code = failure ? spmd::kExitJobFailure : spmd::kExitUserError;
    if (spmd::launcher::mpi_running()) MPI_Abort(MPI_COMM_WORLD, code);
    return code;
  }
  const spmd::launcher::World* w = world ? &*world : nullptr;
  CLI::App app{"spmd: partition a training program over a cluster and run it SPMD-style"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "spmd 0.1");
  spmd::tools::add_run_command(app, w);
  spmd::tools::add_ir_command(app);
  spmd::tools::add_topo_command(app, w);
  spmd::tools::add_launch_command(app);
  spmd::tools::add_plan_command(app, w);
  spmd::tools::add_lower_command(app, w);
  spmd::tools::add_analyze_command(app, w);
  spmd::tools::add_collective_command(app, w);
  spmd::tools::add_checkpoint_command(app, w);
  spmd::tools::add_profile_command(app, w);
  // A failing rank must not leave the others waiting in a collective: World::abort ends
  // the whole job with the code.
  auto fail = [&](int code) {
    if (world) world->abort(code);
    std::exit(code);
  };
  // Bad input: said once where every rank found the same, and no abort where all end.
  auto refuse = [&](const std::string& line) {
    if (world) world->end_on_bad_input(line);
    std::fprintf(stderr, "%s\n", line.c_str());
    std::exit(spmd::kExitUserError);
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    refuse("spmd: error: " + parse_error_line(app, e, argc, argv));
  } catch (const spmd::JobFailure& e) {
    std::fprintf(stderr, "%s\n", spmd::tools::failure_line(world ? world->rank() : 0, e.what()).c_str());
    spmd::tools::failure_said();
    fail(spmd::kExitJobFailure);
  } catch (const spmd::Error& e) {
    refuse(std::string("spmd: error: ") + e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "spmd: internal error: %s\n", e.what());
    fail(spmd::kExitInternalError);
  }
  return 0;
}
