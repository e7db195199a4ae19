// Which plan a job runs: the policy every client shares (the command, an embedding
// program). Exactly one source of decisions: a plan (file or in code), tactics (file or in
// code), a built-in strategy by name, the search (search.h: the plan predicted fastest among
// those that fit the devices' memory), or none: then the search on several devices and the
// replicated plan on one.
#pragma once

#include <optional>
#include <string>

#include "ir/graph.h"
#include "launcher/topology.h"
#include "partitioner/plan.h"
#include "partitioner/search.h"
#include "partitioner/tactics.h"

namespace spmd::partitioner {

struct PlanRequest {
  std::string strategy;              // a built-in strategy (builtin_strategies())
  std::string tactics_file;          // a tactics file (JSON)
  std::string plan_file;             // a plan file written by write_plan
  std::optional<Tactics> tactics;    // tactics built in code
  std::optional<Plan> plan;          // a plan built in code
  bool automatic = false;            // searched (search_plan)
  SearchOptions search;              // how, when automatic
  bool any() const;                  // whether anything is asked for
  std::string describe(int devices) const;  // "strategy zero", "tactics t.json", ...
};

// The plan `request` gives for `g` on `devices` devices. Throws spmd::Error when two
// sources are given, a file is unreadable or malformed (naming it), a strategy does not
// apply, or the plan's mesh does not have `devices` devices, or no searched plan fits. The
// search plays its candidates on `topology` (device i for rank i), or without one on a
// node of `devices` cores. Cost: one propagation; a search when automatic.
Plan choose_plan(const PlanRequest& request, const ir::Graph& g, int devices,
                 const launcher::Topology* topology = nullptr);

}  // namespace spmd::partitioner
