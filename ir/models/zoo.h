// The model zoo: each model is a function of its hyper-parameters, named on the command line
// as "NAME:key=value,...". A model graph has the scalar output "loss" and meta facts
// `model` (its spec), `task` and `data` (where its inputs come from).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace spmd::ir {

// A parsed model spec: "gpt:layers=2,d_model=256" -> {"gpt", {layers: 2, d_model: 256}}.
struct ModelSpec {
  std::string name;
  std::map<std::string, int64_t> params;  // every hyper-parameter, defaults filled in
  std::string text() const;               // canonical form, all hyper-parameters listed
};

// Parses a spec; unknown models, unknown or malformed hyper-parameters are spmd::Errors
// naming the offending part and listing what is accepted.
ModelSpec parse_model_spec(const std::string& spec);
// True when `text` names a zoo model rather than a file ("gpt", "mlp:layers=3").
bool is_model_spec(const std::string& text);
// The forward graph and loss of a zoo model. Costs O(layers) nodes; allocates no tensor.
Graph build_model(const ModelSpec& spec);
Graph build_model(const std::string& spec);
// The names of the zoo's models with their default hyper-parameters, for help texts.
std::vector<std::string> zoo_models();

// The models themselves (models/*.cpp).
Graph build_mlp(const ModelSpec& spec);
Graph build_gpt(const ModelSpec& spec);

}  // namespace spmd::ir
