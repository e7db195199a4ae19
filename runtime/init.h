// Parameter and state initialisation: a param's values depend only on the seed, its name
// and its attributes, so every run (and every way of partitioning it) starts from the
// same global tensors.
#pragma once

#include <cstdint>
#include <span>

#include "ir/graph.h"

namespace spmd::runtime {

// Throws spmd::Error naming the node unless its `init` attribute is one initialize() knows
// (normal, zeros or ones; zeros where absent). O(1).
void check_init(const ir::Node& node);

// Fills `out` (node.type.numel() floats) per the node's `init` attribute: normal(0, std),
// zeros or ones. Cost: one random draw per element.
void initialize(const ir::Node& node, uint64_t seed, std::span<float> out);

}  // namespace spmd::runtime
