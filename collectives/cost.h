// The alpha-beta-gamma cost of each algorithm (Thakur, Rabenseifner and Gropp 2005, sec. 4):
// alpha = latency per message, beta = seconds per byte on the link crossed, gamma = seconds
// per byte of local reduction. Used by the schedule synthesizer to rank candidates.
#pragma once

#include <cstdint>
#include <string>

#include "collectives/primitives.h"

namespace spmd::collectives {

struct LinkCost {
  double latency_s = 2e-6;           // alpha
  double bandwidth_Bps = 12.5e9;     // 1 / beta
  double reduce_Bps = 10e9;          // 1 / gamma
};

// Predicted seconds of `primitive` ("all_reduce", "reduce_scatter", "all_gather",
// "broadcast", "reduce", "all_to_all") with `algo` over `p` ranks for a buffer of `bytes`
// (the full buffer: the all-reduce's vector, the all-gather's output).
double predicted_seconds(const std::string& primitive, Algorithm algo, int p, double bytes,
                         const LinkCost& link);

}  // namespace spmd::collectives
