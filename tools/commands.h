// The subcommands of `spmd`. Each adds itself to the CLI11 app; its callback runs the command
// and throws spmd::Error on a user's mistake (main prints it and exits 2 on every rank).
// `world` is the MPI job (null only for `launch`, which starts mpirun itself).
#pragma once

#include <CLI/CLI.hpp>

#include "launcher/world.h"

namespace spmd::tools {

void add_run_command(CLI::App& app, const launcher::World* world);     // spmd run MODEL|FILE.ir: train
void add_ir_command(CLI::App& app);      // spmd ir MODEL: print the training-step IR
void add_topo_command(CLI::App& app, const launcher::World* world);    // spmd topo: print the job's hardware tree
void add_launch_command(CLI::App& app);  // spmd launch -np N -- ...: build and run mpirun
void add_plan_command(CLI::App& app, const launcher::World* world);    // spmd plan MODEL --strategy ...: the plan, without running
void add_analyze_command(CLI::App& app, const launcher::World* world); // spmd analyze MODEL: dimension classes and conflicts
void add_lower_command(CLI::App& app, const launcher::World* world);  // spmd lower MODEL: a rank's program
void add_checkpoint_command(CLI::App& app, const launcher::World* world);  // spmd checkpoint inspect DIR
void add_profile_command(CLI::App& app, const launcher::World* world);  // spmd profile: measure kernels and links
void add_collective_command(CLI::App& app, const launcher::World* world);  // spmd collective allreduce --bytes ...: schedules

}  // namespace spmd::tools
