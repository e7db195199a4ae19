// How the commands get their training-step graph: from a zoo model spec ("gpt:layers=4")
// or from an IR file, with the command line's optimizer and data settings applied.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "ir/autodiff.h"
#include "ir/graph.h"

namespace spmd::tools {

struct ProgramOptions {
  std::string model;              // zoo spec or path of an IR file
  std::string data;               // --data FILE, empty for the graph's own
  ir::Optimizer optimizer;        // --optimizer, --lr (a model spec only)
  std::optional<double> lr;       // --lr as given
};

// Adds MODEL, --data, --optimizer and --lr to a command.
void add_program_options(CLI::App& cmd, ProgramOptions& options);

// The training-step graph: a zoo model differentiated with the optimizer, or a parsed file
// (differentiated too when it holds only a forward pass). Throws spmd::Error for an unknown
// model, a missing file or malformed IR.
ir::Graph load_training_step(const ProgramOptions& options);

}  // namespace spmd::tools
