#include "tools/partition_options.h"

#include "partitioner/tactics.h"
#include "tools/sizes.h"
#include "tools/validators.h"

namespace spmd::tools {

void add_partition_options(CLI::App& cmd, partitioner::PlanRequest& o) {
  std::string strategies;
  for (const std::string& s : partitioner::builtin_strategies()) strategies += (strategies.empty() ? "" : ", ") + s;
  auto* s = cmd.add_option("--strategy", o.strategy, "a built-in strategy: " + strategies)
                ->check(CLI::IsMember(partitioner::builtin_strategies()));
  auto* t = cmd.add_option("--tactics", o.tactics_file, "a tactics file (JSON: mesh and tactics)");
  auto* p = cmd.add_option("--plan", o.plan_file, "a plan file written by spmd plan --json");
  auto* a = cmd.add_flag("--auto", o.automatic,
                         "search for the plan predicted fastest that fits the devices' memory (MCTS, or every "
                         "plan where few)");
  s->excludes(t)->excludes(p)->excludes(a);
  t->excludes(p)->excludes(a);
  p->excludes(a);
}

void add_search_options(CLI::App& cmd, partitioner::SearchOptions& o) {
  auto size = [&cmd](const std::string& flag, std::int64_t& into, const std::string& help) {
    cmd.add_option_function<std::string>(
        flag, [&into, flag](const std::string& text) { into = static_cast<std::int64_t>(parse_size(text, flag)); },
        help);
  };
  size("--memory-limit", o.memory_limit, "memory per device the plan must fit: 32GiB (default: the device's)");
  size("--device-memory", o.device.memory_bytes, "memory of one device, in place of the topology's: 32GiB");
  cmd.add_option("--device-flops", o.device.peak_flops, "peak FLOP/s of one device (default: from the topology)")
      ->check(kPositive);
  cmd.add_option("--budget", o.budget, "simulations the search may run (default 200)")->check(kPositive);
  cmd.add_option("--seed-search", o.seed, "seed of the tree search (default 1)");
  cmd.add_flag("--exhaustive", o.exhaustive, "simulate every candidate plan, whatever the budget");
}

}  // namespace spmd::tools
