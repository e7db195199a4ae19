// Where a job's training step comes from: a zoo model spec ("gpt:layers=4"), an IR file, or
// a graph built in code, with the optimizer and data settings applied.
#pragma once

#include <optional>
#include <string>

#include "ir/autodiff.h"
#include "ir/graph.h"

namespace spmd::runtime {

struct ProgramSource {
  std::string model;               // a zoo spec or the path of an IR file (when no graph)
  std::optional<ir::Graph> graph;  // a forward pass (differentiated here) or a training step
  ir::Optimizer optimizer;         // for a forward pass: how to update the params
  std::optional<double> lr;        // the learning rate, overriding the optimizer's and the graph's
  std::string data_file;           // a language model's corpus (empty: the graph's own)
  std::string describe() const;    // the spec, the file, or "a graph built in code"
};

// The training-step graph: a forward pass is differentiated with the optimizer, a step (a
// graph with updates) is taken as it is. Throws spmd::Error for an unknown model, a missing
// or unreadable file (naming it), malformed IR (file:line:column), a bad learning rate.
// Cost: building and differentiating the graph, O(nodes).
ir::Graph load_training_step(const ProgramSource& source);

}  // namespace spmd::runtime
