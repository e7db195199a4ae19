#include "tools/partition_options.h"

#include <cmath>
#include <limits>
#include <string>

#include "partitioner/tactics.h"
#include "tools/program.h"
#include "tools/sizes.h"
#include "tools/validators.h"

namespace spmd::tools {

namespace {

// "200": simulations; "30s" or "1.5s": seconds (the simulations then unbounded).
void parse_budget(const std::string& text, partitioner::SearchOptions& o) {
  const bool seconds = !text.empty() && text.back() == 's';
  const std::string number = seconds ? text.substr(0, text.size() - 1) : text;
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(number, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const bool whole = value == static_cast<double>(static_cast<int>(value));
  if (used != number.size() || !(value > 0) || !std::isfinite(value) || (!seconds && (!whole || value > 1e9))) {
    throw CLI::ValidationError("--budget", "'" + text + "' is neither a number of simulations (200) nor seconds (30s)");
  }
  if (seconds) {
    o.budget_seconds = value;
    o.budget = std::numeric_limits<int>::max();
  } else {
    o.budget = static_cast<int>(value);
  }
}

}  // namespace

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
  cmd.add_option_function<std::string>(
      "--budget", [&o](const std::string& text) { parse_budget(text, o); },
      "how long the search may go on: N simulations (default 200), or seconds (30s)");
  cmd.add_option_function<std::string>(
      "--seed-search", [&o](const std::string& text) { o.seed = parse_seed(text, "--seed-search"); },
      "seed of the tree search, 0 to 2^64-1 (default 1)");
  cmd.add_flag("--exhaustive", o.exhaustive, "simulate every candidate plan, whatever the budget");
}

}  // namespace spmd::tools
