// spmd lower MODEL [--strategy S | --tactics FILE | --plan FILE] [--ranks N] [--rank R]:
// the per-device program one rank runs, in the IR text form: local shapes, every
// redistribution explicit, each with the reason lowering recorded for it.
#include <cstdio>
#include <memory>

#include "collectives/layout.h"
#include "common/error.h"
#include "ir/text.h"
#include "partitioner/lower.h"
#include "partitioner/mesh.h"
#include "tools/validators.h"
#include "tools/commands.h"
#include "tools/partition_options.h"
#include "tools/program.h"

namespace spmd::tools {
namespace {

struct LowerOptions {
  runtime::ProgramSource program;
  partitioner::PlanRequest partition;
  int ranks = 0;  // 0: the job's ranks
  int rank = 0;
};

std::string coordinates(const partitioner::Mesh& mesh, int rank) {
  std::vector<int> coords = collectives::mesh_coords(rank, mesh.sizes);
  std::string text;
  for (size_t a = 0; a < coords.size(); ++a) text += (a ? ", " : "") + mesh.names[a] + " " + std::to_string(coords[a]);
  return text;
}

void lower(const LowerOptions& o, const launcher::World& world) {
  const int ranks = o.ranks > 0 ? o.ranks : world.size();
  if (o.rank >= ranks) {
    throw Error("--rank " + std::to_string(o.rank) + " is not a rank of " + std::to_string(ranks) +
                " (ranks 0 to " + std::to_string(ranks - 1) + ")");
  }
  ir::Graph g = load_program(o.program);
  partitioner::Plan plan = partitioner::choose_plan(o.partition, g, ranks);
  partitioner::Program program = partitioner::lower(g, plan);
  if (!world.lead()) return;
  std::printf("# spmd lower %s: %s on %d %s, mesh %s\n", o.program.describe().c_str(),
              o.partition.describe(ranks).c_str(), ranks, ranks == 1 ? "device" : "devices",
              plan.mesh.to_string().c_str());
  std::printf("# rank %d at (%s); every rank runs this program on its own shards\n", o.rank,
              coordinates(plan.mesh, o.rank).c_str());
  for (size_t i = 0; i < program.collectives.size(); ++i) {
    const auto& c = program.collectives[i];
    std::printf("# collective %zu: %s of %s: %s\n", i + 1, c.steps.c_str(), c.value.c_str(), c.reason.c_str());
  }
  std::fputs(ir::print(program.graph).c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace

void add_lower_command(CLI::App& app, const launcher::World* world) {
  auto o = std::make_shared<LowerOptions>();
  auto* cmd = app.add_subcommand("lower", "Print the per-device program one rank runs (IR text)");
  add_program_options(*cmd, o->program);
  add_partition_options(*cmd, o->partition);
  cmd->add_option("--ranks", o->ranks, "number of devices (default: the job's ranks)")->check(kRankCount);
  cmd->add_option("--rank", o->rank, "the rank whose program to print (default 0)")->check(count_check(0, int64_t{1} << 24));
  cmd->callback([o, world] { lower(*o, *world); });
}

}  // namespace spmd::tools
