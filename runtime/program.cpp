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
#include "runtime/init.h"

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

// What a run of `g` needs of it beyond verify(): a loss of one f32 to report and train on,
// params it can initialise, a learning rate that is a number. Checked when the program is
// loaded, so that plan refuses it as run does, before anything runs.
void check_trainable(const ir::Graph& g) {
  const ir::TensorType& loss = g.node(g.output("loss")).type;
  if (loss.dtype != ir::DType::f32 || loss.numel() != 1) {
    throw Error("the output 'loss' is " + ir::to_string(loss.dtype) + ir::to_string(loss.shape) +
                ": a training step's loss is one f32");
  }
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    if (g.node(v).op == "param") check_init(g.node(v));
  }
  (void)g.meta.f("lr", 1e-3);  // throws where it is not a number
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
  try {
    check_trainable(g);
  } catch (const Error& e) {
    throw Error(source.describe() + ": " + e.what());
  }
  if (!source.data_file.empty()) {
    require_regular_file(source.data_file, "data file");
    g.meta.set("data", source.data_file);
  }
  return g;
}

}  // namespace spmd::runtime
