// Sizes as users type them on the command line.
#pragma once

#include <string>

namespace spmd::tools {

// "64MiB" -> 67108864, "32GiB", "1000000", "4KB" (powers of 1000). Throws spmd::Error naming
// `option` for anything but a positive number, optionally with a unit.
double parse_size(const std::string& text, const std::string& option);

}  // namespace spmd::tools
