// The alpha-beta-gamma model fitted to measured times of one algorithm: each algorithm's
// time is linear in the three figures (Thakur, Rabenseifner and Gropp 2005, sec. 4),
//   seconds = messages x alpha + bytes x beta + reduced x gamma,
// where messages, bytes (sent on the critical path) and reduced (bytes added) follow from
// the algorithm, the group size and the buffer (cost.h). Fitting alpha, beta and gamma per
// algorithm to its own measurements over sizes, as `spmd profile` does, calibrates what the
// generic link figures miss (protocol switches, copies, the reduction's real speed).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "collectives/primitives.h"
#include "launcher/topology.h"

namespace spmd::collectives {

// The model's three terms for `primitive` with `algo` over `p` ranks for a buffer of
// `bytes`. The backend's own collective (native) picks its algorithm per call and has no
// terms of its own: it gets those of our first algorithm of the primitive, a shape for its
// measured bands to scale by. Throws spmd::Error as predicted_seconds does.
struct CostTerms {
  double messages = 0;  // multiplies alpha
  double bytes = 0;     // multiplies beta
  double reduced = 0;   // multiplies gamma
};
CostTerms cost_terms(const std::string& primitive, Algorithm algo, int p, double bytes);

// Fitted figures of one algorithm, each zero or more; `error` is the relative RMS error of
// the fit over the points it was fitted to. `offset_s`, seconds whatever the size, is zero
// but in a band whose terms grow in proportion (fit_cost_bands).
struct FittedCost {
  double alpha_s = 0;
  double beta_s_per_byte = 0;
  double gamma_s_per_byte = 0;
  double error = 0;
  double offset_s = 0;
  double seconds(const CostTerms& t) const {
    return offset_s + t.messages * alpha_s + t.bytes * beta_s_per_byte + t.reduced * gamma_s_per_byte;
  }
};

// Least squares of the relative error (each point weighted by 1 / seconds^2) with every
// figure kept at zero or above: each subset of the three is solved and the best whose
// figures are all non-negative kept (an exact non-negative least squares for three
// unknowns). Points of zero or non-finite time are left out. With `alpha` not negative,
// alpha is fixed at it and only beta and gamma fitted. Cost: O(points).
FittedCost fit_cost(std::span<const CostTerms> terms, std::span<const double> seconds, double alpha = -1);

// One band of sizes and its figures: what a message-size-dependent network model keeps
// (SimGrid's piecewise-linear model; MPI libraries switch protocols at some sizes, caches
// stop holding the buffers at others, and one line fits neither side).
struct FittedBand {
  double up_to_bytes = 0;  // the band's largest size; 0 for the last band (any larger size)
  FittedCost cost;
};

// The measured sizes (ascending, each with its terms and time) as bands between consecutive
// sizes, each band's figures through its two points (fit_cost on them): the model then
// gives every measured time back and interpolates between them, and the last band extends
// to the largest sizes. Below the smallest size one band more holds that size's time
// (`offset_s` alone): small collectives are all latency. Where a time grows faster than its
// size between two sizes (a buffer that outgrows a cache), the line through them has a
// negative alpha, which the band takes (its times stay between its measured ones, and grow
// beyond the last).
// Where the terms themselves grow in proportion between the two sizes (a pipelined chain's
// messages and bytes both count its segments), no line of theirs passes through both times:
// such a band takes a line of one term plus a constant, `offset_s`. With fewer than three
// sizes, one band of fit_cost over them all. Cost: O(sizes).
std::vector<FittedBand> fit_cost_bands(std::span<const double> bytes, std::span<const CostTerms> terms,
                                       std::span<const double> seconds);

// The band of a level's measured algorithms (`spmd profile`) that costs `primitive` with
// `algo` on a buffer of `bytes`; nullptr where none was measured, or the band holds only
// larger sizes (MeasuredAlgorithm::from_bytes).
const launcher::MeasuredAlgorithm* measured_band(const std::vector<launcher::MeasuredAlgorithm>& algorithms,
                                                 const std::string& primitive, Algorithm algo, double bytes);
// Its time over `p` ranks, `concurrent` transfers sharing the link's bandwidth.
double measured_seconds(const launcher::MeasuredAlgorithm& band, Algorithm algo, int p, double bytes,
                        int concurrent = 1);

}  // namespace spmd::collectives
