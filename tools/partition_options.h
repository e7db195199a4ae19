// The command-line options that say how to partition a program (--strategy, --tactics,
// --plan), shared by `spmd run` and `spmd plan`, and the Plan they give.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "ir/graph.h"
#include "partitioner/plan.h"

namespace spmd::tools {

struct PartitionOptions {
  std::string strategy;  // a built-in strategy: dp, megatron, dp+megatron, zero
  std::string tactics;   // a tactics file
  std::string plan;      // a plan file
  bool any() const { return !strategy.empty() || !tactics.empty() || !plan.empty(); }
};

// Adds the three options, mutually exclusive.
void add_partition_options(CLI::App& cmd, PartitionOptions& options);

// The plan for `g` on `ranks` devices. Without an option: dp when ranks > 1, else every value
// replicated on a one-device mesh. A mesh whose size is not `ranks` is an spmd::Error.
partitioner::Plan choose_plan(const PartitionOptions& options, const ir::Graph& g, int ranks);

// A short description of where the plan came from: "strategy dp", "tactics FILE" ...
std::string plan_source(const PartitionOptions& options, int ranks);

}  // namespace spmd::tools
