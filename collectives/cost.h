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

// The latency per message at which predicted_seconds gives `seconds` for that collective,
// `link`'s bandwidth and reduction rate kept: a measured collective's time read as alpha,
// e.g. what each round of one over every rank of a job costs where they share cores.
// Not finite for p = 1 (no message to charge it to). Throws spmd::Error for `native`, the
// best of several algorithms, whose cost is not one line in alpha.
double latency_of(const std::string& primitive, Algorithm algo, int p, double bytes, double seconds,
                  const LinkCost& link);

// The bandwidth at which predicted_seconds gives `seconds`, `link`'s latency and reduction
// rate kept: what a collective of every rank moving its bytes at once shows of the link
// (ranks sharing cores, or a memory bus, move them in turns). Not finite where `seconds`
// leaves no time for the bytes, nor for p = 1; throws for `native`, as latency_of.
double bandwidth_of(const std::string& primitive, Algorithm algo, int p, double bytes, double seconds,
                    const LinkCost& link);

}  // namespace spmd::collectives
