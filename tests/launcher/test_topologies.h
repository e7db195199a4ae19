// Paths of the hwloc XML files in tests/data/topologies, for tests.
#pragma once

#include <string>

namespace spmd::launcher::testing {

inline std::string topology_file(const std::string& name) {
  return std::string(SPMD_TOPOLOGIES_DIR) + "/" + name;
}

}  // namespace spmd::launcher::testing
