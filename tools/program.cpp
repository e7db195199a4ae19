#include "tools/program.h"

#include <filesystem>

#include "common/error.h"
#include "ir/models/zoo.h"
#include "ir/text.h"

namespace spmd::tools {

void add_program_options(CLI::App& cmd, ProgramOptions& o) {
  std::string models;
  for (const std::string& m : ir::zoo_models()) models += "\n  " + m;
  cmd.add_option("model", o.model, "a zoo model (NAME:key=value,...) or an IR file; models and defaults:" + models)
      ->required();
  cmd.add_option("--data", o.data, "train a language model on the bytes of this text file");
  cmd.add_option("--optimizer", o.optimizer.kind, "adamw or sgd (momentum 0.9)")
      ->check(CLI::IsMember({"adamw", "sgd"}));
  cmd.add_option("--lr", o.lr, "learning rate (default 0.001)")->check(CLI::PositiveNumber);
}

ir::Graph load_training_step(const ProgramOptions& o) {
  ir::Optimizer opt = o.optimizer;
  if (o.lr) opt.lr = *o.lr;
  ir::Graph g;
  if (ir::is_model_spec(o.model)) {
    g = ir::training_step(ir::build_model(o.model), opt);
  } else if (std::filesystem::exists(o.model)) {
    g = ir::parse_file(o.model);
    if (g.updates.empty()) g = ir::training_step(g, opt);
  } else {
    throw Error("'" + o.model + "' is neither a model (known: mlp, gpt) nor an IR file");
  }
  if (!o.data.empty()) {
    if (!std::filesystem::is_regular_file(o.data)) throw Error("data file '" + o.data + "' does not exist");
    g.meta.set("data", o.data);
  }
  return g;
}

}  // namespace spmd::tools
