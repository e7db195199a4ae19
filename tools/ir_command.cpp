// spmd ir MODEL: prints the training-step graph in the IR's text form, which `spmd run`
// reads back and trains exactly as it trains the model itself.
#include <iostream>

#include "ir/text.h"
#include "tools/commands.h"
#include "tools/program.h"

namespace spmd::tools {

void add_ir_command(CLI::App& app) {
  auto options = std::make_shared<runtime::ProgramSource>();
  auto* cmd = app.add_subcommand("ir", "Print the training-step IR of a model");
  add_program_options(*cmd, *options);
  cmd->callback([options] { std::cout << ir::print(load_program(*options)); });
}

}  // namespace spmd::tools
