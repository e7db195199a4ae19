// The command-line options that say which program a command works on (MODEL, --data,
// --optimizer, --lr), filling a runtime::ProgramSource.
#pragma once

#include <CLI/CLI.hpp>

#include "runtime/job.h"
#include "runtime/program.h"

namespace spmd::tools {

// Adds MODEL, --data, --optimizer and --lr to a command, writing into `source`.
void add_program_options(CLI::App& cmd, runtime::ProgramSource& source);

// runtime::load_training_step, with the flags named in its messages.
ir::Graph load_program(const runtime::ProgramSource& source);

// The job described (runtime::Job's first stage), with the flags named in its messages.
runtime::Job describe_job(const runtime::JobDescription& description);

// A seed (`flag`: --seed, --seed-search): a decimal integer from 0 to 2^64-1. Throws
// spmd::Error naming the flag otherwise (a sign, a fraction, or a number past the range,
// which would otherwise saturate).
uint64_t parse_seed(const std::string& text, const std::string& flag = "--seed");

}  // namespace spmd::tools
