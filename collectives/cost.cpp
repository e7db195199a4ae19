// The cost of each algorithm in the alpha-beta-gamma model of Thakur, Rabenseifner and Gropp
// (2005), sec. 4, for n bytes over p ranks, with the extra steps their non-power-of-two
// variants take (p' = largest power of two <= p).
#include "collectives/cost.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "collectives/algorithms/segmented.h"
#include "common/error.h"

namespace spmd::collectives {
namespace {

struct Model {
  int p;
  double n;  // bytes
  double alpha, beta, gamma;

  double lg() const { return std::ceil(std::log2(p)); }  // steps of a tree over p ranks
  int active() const { return static_cast<int>(std::bit_floor(static_cast<unsigned>(p))); }  // p'
  bool folded() const { return active() != p; }
  double fraction(int q) const { return double(q - 1) / q; }  // (q-1)/q
  // The fold's pre-step (n to the neighbour, reduced there) and post-step (n back).
  double fold_cost() const { return folded() ? (alpha + n * beta + n * gamma) + (alpha + n * beta) : 0.0; }
};

// sec. 4.1: ring (p-1) steps; recursive doubling (and Bruck for non-powers of two) ceil(lg p).
// Scattered: the ring's, as each rank's p - 1 messages leave one at a time (the single-port
// model the paper assumes; whatever more the hardware overlaps, a profile measures).
double all_gather(const Model& m, Algorithm algo) {
  const double bandwidth = m.fraction(m.p) * m.n * m.beta;
  if (algo == Algorithm::shared_memory) return 2 * m.alpha + bandwidth;
  if (algo == Algorithm::ring || algo == Algorithm::scattered) return (m.p - 1) * m.alpha + bandwidth;
  return m.lg() * m.alpha + bandwidth;
}

// sec. 4.1: binomial tree ceil(lg p)(alpha + n beta); van de Geijn's scatter + ring
// all-gather (lg p + p - 1) alpha + 2 (p-1)/p n beta. The pipelined chain: p - 2 + s steps
// of one segment each, s = the segments of kSegmentFloats floats. Scattered, a flat tree:
// the root's p - 1 messages leave one at a time (single-port, as all_gather).
double broadcast(const Model& m, Algorithm algo) {
  if (algo == Algorithm::shared_memory) return 2 * m.alpha + m.n * m.beta;
  if (algo == Algorithm::binomial_tree) return m.lg() * (m.alpha + m.n * m.beta);
  if (algo == Algorithm::scattered) return (m.p - 1) * (m.alpha + m.n * m.beta);
  if (algo == Algorithm::pipelined_chain) {
    const double segment = std::min(m.n, 4.0 * static_cast<double>(algorithms::kSegmentFloats));
    const double segments = std::max(1.0, std::ceil(m.n / (4.0 * static_cast<double>(algorithms::kSegmentFloats))));
    return (m.p - 2 + segments) * (m.alpha + segment * m.beta);
  }
  return (m.lg() + m.p - 1) * m.alpha + 2 * m.fraction(m.p) * m.n * m.beta;
}

// sec. 4.3: ring (p-1) alpha + (p-1)/p n (beta + gamma); recursive halving lg p' alpha +
// (p'-1)/p' n (beta + gamma), plus for non-powers of two the pre-step and a last message
// of one block to the rank that sat out; scattered, the ring's (single-port, as all_gather).
double reduce_scatter(const Model& m, Algorithm algo) {
  if (algo == Algorithm::shared_memory) return 2 * m.alpha + m.fraction(m.p) * m.n * (m.beta + m.gamma);
  if (algo == Algorithm::ring || algo == Algorithm::scattered) {
    return (m.p - 1) * m.alpha + m.fraction(m.p) * m.n * (m.beta + m.gamma);
  }
  const int q = m.active();
  double t = std::log2(q) * m.alpha + m.fraction(q) * m.n * (m.beta + m.gamma);
  if (m.folded()) t += (m.alpha + m.n * (m.beta + m.gamma)) + (m.alpha + m.n / m.p * m.beta);
  return t;
}

// sec. 4.4: ring = ring reduce-scatter + ring all-gather; Rabenseifner 2 lg p' alpha +
// 2 (p'-1)/p' n beta + (p'-1)/p' n gamma; recursive doubling lg p' (alpha + n beta + n gamma);
// both plus the fold for non-powers of two; scattered, the ring's (single-port, as all_gather).
double all_reduce(const Model& m, Algorithm algo) {
  const int q = m.active();
  switch (algo) {
    case Algorithm::ring:
    case Algorithm::scattered:
      return 2 * (m.p - 1) * m.alpha + m.fraction(m.p) * m.n * (2 * m.beta + m.gamma);
    case Algorithm::shared_memory:
      return 2 * m.alpha + m.fraction(m.p) * m.n * (m.beta + m.gamma);
    case Algorithm::recursive_halving_doubling:
      return 2 * std::log2(q) * m.alpha + m.fraction(q) * m.n * (2 * m.beta + m.gamma) + m.fold_cost();
    default:
      return std::log2(q) * (m.alpha + m.n * m.beta + m.n * m.gamma) + m.fold_cost();
  }
}

// sec. 4.5: binomial tree ceil(lg p)(alpha + n beta + n gamma).
double reduce(const Model& m, Algorithm) { return m.lg() * (m.alpha + m.n * m.beta + m.n * m.gamma); }

// Shared memory (algorithms/shared_memory.cpp): two meetings (where the buffers lie, the
// barrier at the end; one for the small ones it stages), then loads of the peers' blocks
// (reduced, for the reductions), read as the link's beta.
// sec. 4.6: pairwise exchange, p-1 messages of n/p bytes one after another; scattered, the
// same (single-port, as all_gather).
double all_to_all(const Model& m, Algorithm algo) {
  if (algo == Algorithm::shared_memory) return 2 * m.alpha + m.fraction(m.p) * m.n * m.beta;
  return (m.p - 1) * (m.alpha + m.n / m.p * m.beta);
}

double cost_of(const std::string& primitive, Algorithm algo, const Model& m) {
  if (primitive == "all_reduce") return all_reduce(m, algo);
  if (primitive == "reduce_scatter") return reduce_scatter(m, algo);
  if (primitive == "all_gather") return all_gather(m, algo);
  if (primitive == "broadcast") return broadcast(m, algo);
  if (primitive == "reduce") return reduce(m, algo);
  return all_to_all(m, algo);
}

}  // namespace

double predicted_seconds(const std::string& primitive, Algorithm algo, int p, double bytes,
                         const LinkCost& link) {
  const std::vector<Algorithm> algorithms = algorithms_of(primitive);  // throws for unknown names
  if (std::ranges::find(algorithms, algo) == algorithms.end()) {
    throw Error("predicted_seconds: " + primitive + " has no algorithm '" + to_string(algo) + "'");
  }
  if (p < 1) throw Error("predicted_seconds: " + std::to_string(p) + " ranks");
  if (bytes < 0) throw Error("predicted_seconds: negative size " + std::to_string(bytes) + " bytes");
  const Model model{p, bytes, link.latency_s, 1.0 / link.bandwidth_Bps, 1.0 / link.reduce_Bps};
  if (p == 1) return 0.0;
  if (algo != Algorithm::native) return cost_of(primitive, algo, model);
  // The backend picks among message-passing algorithms like ours; model it as picking the
  // best of them.
  double best = std::numeric_limits<double>::infinity();
  for (Algorithm a : algorithms) {
    if (a != Algorithm::native && a != Algorithm::shared_memory) best = std::min(best, cost_of(primitive, a, model));
  }
  return best;
}

namespace {

// predicted_seconds as rest + slope x one figure of `link`, which `with` sets: each
// algorithm's cost is linear in alpha, and in beta.
struct CostLine {
  double rest = 0, slope = 0;
};
template <class With>
CostLine cost_line(const std::string& primitive, Algorithm algo, int p, double bytes, const LinkCost& link, With with) {
  LinkCost zero = link, one = link;
  with(zero, 0.0);
  with(one, 1.0);
  const double rest = predicted_seconds(primitive, algo, p, bytes, zero);
  return {rest, predicted_seconds(primitive, algo, p, bytes, one) - rest};
}

}  // namespace

double latency_of(const std::string& primitive, Algorithm algo, int p, double bytes, double seconds,
                  const LinkCost& link) {
  if (algo == Algorithm::native) throw Error("latency_of: " + primitive + "'s native algorithm is not one formula");
  const CostLine line = cost_line(primitive, algo, p, bytes, link, [](LinkCost& l, double alpha) { l.latency_s = alpha; });
  return line.slope > 0 ? (seconds - line.rest) / line.slope : std::numeric_limits<double>::quiet_NaN();
}

double bandwidth_of(const std::string& primitive, Algorithm algo, int p, double bytes, double seconds,
                    const LinkCost& link) {
  if (algo == Algorithm::native) throw Error("bandwidth_of: " + primitive + "'s native algorithm is not one formula");
  const CostLine line =
      cost_line(primitive, algo, p, bytes, link, [](LinkCost& l, double beta) { l.bandwidth_Bps = 1 / beta; });
  const double beta = line.slope > 0 ? (seconds - line.rest) / line.slope : 0;
  return beta > 0 ? 1 / beta : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace spmd::collectives
