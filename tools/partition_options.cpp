#include "tools/partition_options.h"

#include "common/error.h"
#include "partitioner/tactics.h"

namespace spmd::tools {

void add_partition_options(CLI::App& cmd, PartitionOptions& o) {
  std::string strategies;
  for (const std::string& s : partitioner::builtin_strategies()) strategies += (strategies.empty() ? "" : ", ") + s;
  auto* s = cmd.add_option("--strategy", o.strategy, "a built-in strategy: " + strategies)
                ->check(CLI::IsMember(partitioner::builtin_strategies()));
  auto* t = cmd.add_option("--tactics", o.tactics, "a tactics file (JSON: mesh and tactics)");
  auto* p = cmd.add_option("--plan", o.plan, "a plan file written by spmd plan --json");
  s->excludes(t)->excludes(p);
  t->excludes(p);
}

partitioner::Plan choose_plan(const PartitionOptions& o, const ir::Graph& g, int ranks) {
  partitioner::Plan plan;
  if (!o.plan.empty()) {
    plan = partitioner::read_plan(o.plan, g);
  } else if (!o.tactics.empty()) {
    try {
      plan = partitioner::apply_tactics(g, partitioner::read_tactics(o.tactics));
    } catch (const Error& e) {
      std::string what = e.what();
      throw Error(what.rfind(o.tactics, 0) == 0 ? what : o.tactics + ": " + what);
    }
  } else if (!o.strategy.empty() || ranks > 1) {
    std::string name = o.strategy.empty() ? "dp" : o.strategy;
    plan = partitioner::apply_tactics(g, partitioner::builtin_strategy(name, g, ranks));
  } else {
    plan = partitioner::replicated_plan(g, {{"data"}, {1}});
  }
  if (plan.mesh.size() != ranks) {
    throw Error("the mesh " + plan.mesh.to_string() + " has " + std::to_string(plan.mesh.size()) + " devices, but " +
                std::to_string(ranks) + (ranks == 1 ? " rank runs" : " ranks run") + " the job");
  }
  return plan;
}

std::string plan_source(const PartitionOptions& o, int ranks) {
  if (!o.plan.empty()) return "plan " + o.plan;
  if (!o.tactics.empty()) return "tactics " + o.tactics;
  if (!o.strategy.empty()) return "strategy " + o.strategy;
  return ranks > 1 ? "strategy dp (the default on several ranks)" : "one device";
}

}  // namespace spmd::tools
