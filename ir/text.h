// The IR's text form: what `spmd ir` prints and `spmd run FILE.ir` reads. It carries all a
// run needs (parameter initialisers, where the data comes from), and parses back to the
// same graph.
//
//   spmd-ir 1
//   meta {data="synthetic", model="mlp:layers=2"}
//   %features = input {feed="features"} : f32[64,32]
//   %layer0.w = param {init="normal", std=0.02} : f32[32,512]
//   %3 = matmul %features, %layer0.w : f32[64,512]
//   output loss = %17
//   update %layer0.w = %42
#pragma once

#include <string>
#include <string_view>

#include "ir/graph.h"

namespace spmd::ir {

// One line per node; reals print in their shortest exact form. O(size of the graph).
std::string print(const Graph& g);

// Parses and verifies the text form. Malformed text or an ill-typed op throws spmd::Error
// "<source>:<line>:<column>: <what was expected>".
Graph parse(std::string_view text, const std::string& source = "<ir>");

// Reads and parses a file; a missing file is an spmd::Error naming it.
Graph parse_file(const std::string& path);

}  // namespace spmd::ir
