// spmd analyze MODEL: the dimension analysis of the training step (TOAST): which dimensions
// of which values must be sharded alike (the classes, each one decision of the search) and
// where sharding a class would need a redistribution (the conflicts). Allocates no tensor;
// under mpirun rank 0 prints.
#include <chrono>
#include <cstdio>
#include <limits>
#include <memory>

#include "partitioner/dimensions.h"
#include "tools/analyze_report.h"
#include "tools/commands.h"
#include "tools/program.h"

namespace spmd::tools {
namespace {

struct AnalyzeOptions {
  runtime::ProgramSource program;
  bool all = false;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void analyze(const AnalyzeOptions& o, const launcher::World& world) {
  auto start = std::chrono::steady_clock::now();
  ir::Graph g = load_program(o.program);
  double build_s = seconds_since(start);
  start = std::chrono::steady_clock::now();
  partitioner::DimensionAnalysis a = partitioner::analyze_dimensions(g);
  double analysis_s = seconds_since(start);
  if (!world.lead()) return;
  std::printf("spmd analyze %s  (%s)\n", g.meta.s("model", o.program.describe()).c_str(), g.meta.s("optimizer", "?").c_str());
  std::printf("training step: %d values, built in %s\n\n", g.size(), duration_text(build_s).c_str());
  AnalyzeReport how;
  if (o.all) {
    how.max_classes = std::numeric_limits<size_t>::max();
    how.group_layers = false;
  }
  std::fputs(analyze_report(how, g, a).c_str(), stdout);
  std::printf("\nanalysis took %s\n", duration_text(analysis_s).c_str());
  std::fflush(stdout);
}

}  // namespace

void add_analyze_command(CLI::App& app, const launcher::World* world) {
  auto o = std::make_shared<AnalyzeOptions>();
  auto* cmd = app.add_subcommand("analyze", "Show the dimension classes and conflicts of a training step");
  add_program_options(*cmd, o->program);
  cmd->add_flag("--all", o->all, "list every class, one row each");
  cmd->callback([o, world] { analyze(*o, *world); });
}

}  // namespace spmd::tools
