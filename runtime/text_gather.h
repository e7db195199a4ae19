// Text from every rank to one: how the ranks hand rank 0 what only it writes (their trace
// events). Over the job's Communicator, so every wait has its deadline (a rank that died
// fails the gather naming it instead of hanging it).
#pragma once

#include <string>
#include <vector>

#include "collectives/communicator.h"

namespace spmd::runtime {

// On `root`: every rank's `text` in rank order (its own included). Elsewhere: empty, once
// `root` has it. Collective over `comm`: each other rank sends root two messages (the
// length, then the bytes), which root receives in rank order. Throws spmd::Error (from the
// communicator) when a peer does not answer within its timeout.
std::vector<std::string> gather_text(collectives::Communicator& comm, const std::string& text, int root = 0);

}  // namespace spmd::runtime
