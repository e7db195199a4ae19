// Reverse-mode automatic differentiation: from a model graph whose output "loss" is a
// scalar to a training-step graph (forward, backward, optimizer update).
#pragma once

#include <map>
#include <string>

#include "ir/graph.h"

namespace spmd::ir {

struct Optimizer {
  std::string kind = "adamw";  // "adamw" or "sgd" (with momentum)
  double lr = 1e-3;            // default of the "lr" input; the runtime may feed another
  double momentum = 0.9;       // sgd
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adamw
  double weight_decay = 0.01;  // adamw, on matrices only (not on biases or norms)
};

// Appends to `g` the ops computing d`loss`/d(param) for every param that `loss` depends on;
// returns param -> gradient. Cost: one pass over the graph, O(nodes).
std::map<ValueId, ValueId> append_gradients(Graph& g, ValueId loss);

// The training step of `model` (which must have a scalar output "loss"): its gradients,
// then one optimizer update per param, listed in `updates` with the optimizer's state. Adds
// scalar inputs fed "lr" and (adamw) "step"; meta "lr" records the default rate.
Graph training_step(const Graph& model, const Optimizer& opt);

}  // namespace spmd::ir
