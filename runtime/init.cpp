#include "runtime/init.h"

#include <algorithm>
#include <random>
#include <string_view>

#include "common/error.h"

namespace spmd::runtime {
namespace {

// FNV-1a: a stable hash of the name, so a param's stream does not depend on graph order.
uint64_t name_hash(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

}  // namespace

void check_init(const ir::Node& node) {
  const std::string init = node.attrs.s("init", "zeros");
  if (init != "zeros" && init != "ones" && init != "normal") {
    throw Error("%" + node.name + ": unknown init '" + init + "' (expected normal, zeros or ones)");
  }
}

void initialize(const ir::Node& node, uint64_t seed, std::span<float> out) {
  check_init(node);
  std::string init = node.attrs.s("init", "zeros");
  if (init == "zeros") {
    std::fill(out.begin(), out.end(), 0.0f);
  } else if (init == "ones") {
    std::fill(out.begin(), out.end(), 1.0f);
  } else if (init == "normal") {
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull ^ name_hash(node.name));
    std::normal_distribution<float> normal(0.0f, static_cast<float>(node.attrs.f("std", 0.02)));
    for (float& x : out) x = normal(rng);
  } else {
    throw Error("%" + node.name + ": unknown init '" + init + "' (expected normal, zeros or ones)");
  }
}

}  // namespace spmd::runtime
