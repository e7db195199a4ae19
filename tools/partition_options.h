// The command-line options that say how to partition a program (--strategy, --tactics,
// --plan), shared by `spmd run`, `spmd plan` and `spmd lower`, filling a PlanRequest.
#pragma once

#include <CLI/CLI.hpp>

#include "partitioner/choose.h"

namespace spmd::tools {

// Adds the three options, mutually exclusive, writing into `request`.
void add_partition_options(CLI::App& cmd, partitioner::PlanRequest& request);

}  // namespace spmd::tools
