#include "tools/partition_options.h"

#include "partitioner/tactics.h"

namespace spmd::tools {

void add_partition_options(CLI::App& cmd, partitioner::PlanRequest& o) {
  std::string strategies;
  for (const std::string& s : partitioner::builtin_strategies()) strategies += (strategies.empty() ? "" : ", ") + s;
  auto* s = cmd.add_option("--strategy", o.strategy, "a built-in strategy: " + strategies)
                ->check(CLI::IsMember(partitioner::builtin_strategies()));
  auto* t = cmd.add_option("--tactics", o.tactics_file, "a tactics file (JSON: mesh and tactics)");
  auto* p = cmd.add_option("--plan", o.plan_file, "a plan file written by spmd plan --json");
  s->excludes(t)->excludes(p);
  t->excludes(p);
}

}  // namespace spmd::tools
