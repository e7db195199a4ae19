// One option read out of a command line by hand, where the parser cannot serve: before it
// runs (the deadline of joining the job, needed before MPI starts) or on a command that is
// another program's (the job `spmd launch` restarts). `--name V` and `--name=V` forms;
// exact names only (`--checkpoint` is not `--checkpoint-every`).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace spmd::tools {

// Where `--name` is in `command` (the first occurrence), nullopt when absent or given no
// value. O(words).
std::optional<size_t> find_option(const std::vector<std::string>& command, const std::string& name);

// The value of the option find_option found at `i`.
std::string value_at(const std::vector<std::string>& command, size_t i, const std::string& name);

}  // namespace spmd::tools
