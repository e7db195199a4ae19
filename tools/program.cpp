#include "tools/program.h"

#include <charconv>

#include "common/error.h"
#include "ir/models/zoo.h"

namespace spmd::tools {

void add_program_options(CLI::App& cmd, runtime::ProgramSource& o) {
  std::string models;
  for (const std::string& m : ir::zoo_models()) models += "\n  " + m;
  cmd.add_option("model", o.model, "a zoo model (NAME:key=value,...) or an IR file; models and defaults:" + models)
      ->required();
  cmd.add_option("--data", o.data_file, "train a language model on the bytes of this text file");
  cmd.add_option("--optimizer", o.optimizer.kind, "adamw or sgd (momentum 0.9)")
      ->check(CLI::IsMember({"adamw", "sgd"}));
  cmd.add_option("--lr", o.lr, "learning rate (default 0.001)");
}

namespace {

// The library's messages name no flags: these say which flag the value came from.
Error with_flags(const Error& e) {
  std::string what = e.what();
  if (what.rfind("learning rate", 0) == 0) return Error("--lr: " + what);
  if (what.rfind("data file", 0) == 0) return Error("--data: " + what);
  return e;
}

}  // namespace

ir::Graph load_program(const runtime::ProgramSource& source) {
  try {
    return runtime::load_training_step(source);
  } catch (const Error& e) {
    throw with_flags(e);
  }
}

runtime::Job describe_job(const runtime::JobDescription& description) {
  try {
    return runtime::Job(description);
  } catch (const Error& e) {
    throw with_flags(e);
  }
}

uint64_t parse_seed(const std::string& text, const std::string& flag) {
  uint64_t seed = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seed);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    throw Error(flag + ": '" + text + "' is not an integer from 0 to 18446744073709551615");
  }
  return seed;
}

}  // namespace spmd::tools
