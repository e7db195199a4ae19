// `spmd`: one binary, one subcommand per task. Every rank runs the same command line; a
// user's mistake is printed once per rank with its reason and the whole job exits 2.
#include <mpi.h>

#include <cstdio>
#include <exception>
#include <string_view>

#include "common/error.h"
#include "tools/commands.h"

namespace {

bool mpi_running() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

int world_size() {
  int size = 1;
  if (mpi_running()) MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

void finalize() {
  if (mpi_running()) MPI_Finalize();
}

// Exits the whole job with `code`: under mpirun a failing rank must not leave the others
// waiting in a collective, so it aborts the world.
[[noreturn]] void fail(int code) {
  if (world_size() > 1) MPI_Abort(MPI_COMM_WORLD, code);
  finalize();
  std::exit(code);
}

}  // namespace

int main(int argc, char** argv) {
  // `spmd launch` starts mpirun itself: a singleton MPI process around it would confuse it.
  bool launching = argc > 1 && std::string_view(argv[1]) == "launch";
  if (!launching) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  }
  CLI::App app{"spmd: partition a training program over a cluster and run it SPMD-style"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "spmd 0.1");
  spmd::tools::add_run_command(app);
  spmd::tools::add_ir_command(app);
  spmd::tools::add_topo_command(app);
  spmd::tools::add_launch_command(app);
  spmd::tools::add_plan_command(app);
  spmd::tools::add_analyze_command(app);
  spmd::tools::add_collective_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    if (code != 0) fail(2);
    finalize();
    return 0;
  } catch (const spmd::Error& e) {
    std::fprintf(stderr, "spmd: error: %s\n", e.what());
    fail(2);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "spmd: internal error: %s\n", e.what());
    fail(3);
  }
  finalize();
  return 0;
}
