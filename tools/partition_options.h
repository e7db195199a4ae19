// The command-line options that say how to partition a program (--strategy, --tactics,
// --plan, --auto and how it searches), shared by `spmd run`, `spmd plan` and `spmd lower`, filling a PlanRequest.
#pragma once

#include <CLI/CLI.hpp>

#include "partitioner/choose.h"

namespace spmd::tools {

// Adds the four options, mutually exclusive, writing into `request`.
void add_partition_options(CLI::App& cmd, partitioner::PlanRequest& request);

// The search's options (--memory-limit, --budget, --seed, --device-memory, --device-flops),
// writing into `options`.
void add_search_options(CLI::App& cmd, partitioner::SearchOptions& options);

}  // namespace spmd::tools
