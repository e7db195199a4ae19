// The verifier: checks that a graph built in code (or edited) is well formed, as the parser
// checks text: every op known and given the right number of operands, operands defined
// before use, every declared type equal to what the shape rule infers, names unique and
// not numeric, outputs and updates pointing at existing values of the right kind and type.
#pragma once

#include "ir/graph.h"

namespace spmd::ir {

// Throws spmd::Error naming the first offending value ("%12: matmul: ..."). O(nodes).
void verify(const Graph& g);

}  // namespace spmd::ir
