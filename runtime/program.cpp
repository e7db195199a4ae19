#include "runtime/program.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include "common/error.h"
#include "common/files.h"
#include "ir/models/zoo.h"
#include "ir/text.h"
#include "ir/verify.h"

namespace spmd::runtime {
namespace {

ir::Graph read_graph(const std::string& model) {
  if (ir::is_model_spec(model)) return ir::build_model(model);
  // parse_file names a directory or a FIFO as such (read_text_file).
  std::error_code ec;
  if (std::filesystem::exists(model, ec)) return ir::parse_file(model);
  throw Error("'" + model + "' is neither a model (known: mlp, gpt) nor an IR file");
}

// A number as a person writes it: 0.1, 1e+39, nan.
std::string number_text(double x) {
  std::ostringstream text;
  text << x;
  return text.str();
}

}  // namespace

std::string ProgramSource::describe() const { return graph ? "a graph built in code" : model; }

ir::Graph load_training_step(const ProgramSource& source) {
  if (source.lr && !(std::isfinite(*source.lr) && *source.lr > 0)) {
    throw Error("learning rate " + number_text(*source.lr) + " is not a positive finite number");
  }
  // The step computes in f32: a rate beyond its range would be infinite there.
  if (source.lr && *source.lr > std::numeric_limits<float>::max()) {
    throw Error("learning rate " + number_text(*source.lr) + " is beyond the largest f32");
  }
  ir::Optimizer opt = source.optimizer;
  if (source.lr) opt.lr = *source.lr;
  ir::Graph g;
  if (source.graph) {
    ir::verify(*source.graph);
    g = *source.graph;
  } else {
    g = read_graph(source.model);
  }
  if (g.updates.empty()) {
    try {
      g = ir::training_step(g, opt);
    } catch (const Error& e) {  // what the program lacks for training: say which program
      throw Error(source.describe() + ": " + e.what());
    }
  }
  if (!source.data_file.empty()) {
    require_regular_file(source.data_file, "data file");
    g.meta.set("data", source.data_file);
  }
  return g;
}

}  // namespace spmd::runtime
