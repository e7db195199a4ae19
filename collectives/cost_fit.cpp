#include "collectives/cost_fit.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "collectives/cost.h"
#include "common/error.h"

namespace spmd::collectives {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();
constexpr double kExact = 1e-9;  // a fit's relative error that counts as giving its points back

std::array<double, 3> as_array(const CostTerms& t) { return {t.messages, t.bytes, t.reduced}; }

// Solves the k x k system a x = b (k <= 3) by Gaussian elimination with partial pivoting;
// false when it is singular.
bool solve(std::array<std::array<double, 3>, 3> a, std::array<double, 3> b, int k, std::array<double, 3>& x) {
  for (int c = 0; c < k; ++c) {
    int pivot = c;
    for (int r = c + 1; r < k; ++r) pivot = std::abs(a[r][c]) > std::abs(a[pivot][c]) ? r : pivot;
    if (!(std::abs(a[pivot][c]) > 0)) return false;
    std::swap(a[c], a[pivot]);
    std::swap(b[c], b[pivot]);
    for (int r = c + 1; r < k; ++r) {
      const double f = a[r][c] / a[c][c];
      for (int j = c; j < k; ++j) a[r][j] -= f * a[c][j];
      b[r] -= f * b[c];
    }
  }
  for (int c = k - 1; c >= 0; --c) {
    double s = b[c];
    for (int j = c + 1; j < k; ++j) s -= a[c][j] * x[j];
    x[c] = s / a[c][c];
  }
  return true;
}

double relative_rms(std::span<const CostTerms> terms, std::span<const double> seconds, const FittedCost& f) {
  double sum = 0;
  int n = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    if (!(seconds[i] > 0) || !std::isfinite(seconds[i])) continue;
    const double e = (f.seconds(terms[i]) - seconds[i]) / seconds[i];
    sum += e * e;
    ++n;
  }
  return n ? std::sqrt(sum / n) : 0;
}

// The weighted least squares over the figures in `mask` (bit j: figure j), the others zero,
// alpha fixed at `alpha` when that is not negative (and bit 0 then unset).
bool fit_subset(std::span<const CostTerms> terms, std::span<const double> seconds, unsigned mask, double alpha,
                FittedCost& out, bool alpha_may_be_negative = false) {
  std::array<int, 3> used{};
  int k = 0;
  for (int j = 0; j < 3; ++j) {
    if (mask & (1u << j)) used[k++] = j;
  }
  std::array<std::array<double, 3>, 3> a{};
  std::array<double, 3> b{}, x{};
  for (size_t i = 0; i < terms.size(); ++i) {
    if (!(seconds[i] > 0) || !std::isfinite(seconds[i])) continue;
    const double w = 1 / (seconds[i] * seconds[i]);
    const std::array<double, 3> t = as_array(terms[i]);
    const double rest = seconds[i] - (alpha >= 0 ? alpha * terms[i].messages : 0);
    for (int r = 0; r < k; ++r) {
      for (int c = 0; c < k; ++c) a[r][c] += w * t[used[r]] * t[used[c]];
      b[r] += w * t[used[r]] * rest;
    }
  }
  if (!solve(a, b, k, x)) return false;
  std::array<double, 3> figures{alpha >= 0 ? alpha : 0, 0, 0};
  for (int r = 0; r < k; ++r) {
    const bool may_be_negative = alpha_may_be_negative && used[r] == 0;
    if (!(x[r] >= 0 || may_be_negative) || !std::isfinite(x[r])) return false;
    figures[used[r]] = x[r];
  }
  out = {figures[0], figures[1], figures[2], 0};
  out.error = relative_rms(terms, seconds, out);
  return true;
}

// The line of one term plus a constant through both points of a band (the term that
// changes most between them): what a band takes when its terms grow in proportion and no
// line of theirs passes through both. False when no term changes or time falls with size.
bool offset_line(std::span<const CostTerms> terms, std::span<const double> seconds, FittedCost& out) {
  const std::array<double, 3> lo = as_array(terms[0]), hi = as_array(terms[1]);
  int j = -1;
  for (int i = 0; i < 3; ++i) {
    const double change = hi[i] - lo[i];
    if (change > 0 && (j < 0 || change / hi[i] > (hi[j] - lo[j]) / hi[j])) j = i;
  }
  if (j < 0 || !(seconds[1] >= seconds[0])) return false;
  std::array<double, 3> figures{};
  figures[j] = (seconds[1] - seconds[0]) / (hi[j] - lo[j]);
  out = {figures[0], figures[1], figures[2], 0, seconds[0] - figures[j] * lo[j]};
  out.error = relative_rms(terms, seconds, out);
  return true;
}

}  // namespace

CostTerms cost_terms(const std::string& primitive, Algorithm algo, int p, double bytes) {
  // The backend's own: the shape of the first of ours (its bands are fitted to its own times).
  if (algo == Algorithm::native) algo = algorithms_of(primitive).at(1);
  return {predicted_seconds(primitive, algo, p, bytes, {1.0, kInfinity, kInfinity}),
          predicted_seconds(primitive, algo, p, bytes, {0.0, 1.0, kInfinity}),
          predicted_seconds(primitive, algo, p, bytes, {0.0, kInfinity, 1.0})};
}

FittedCost fit_cost(std::span<const CostTerms> terms, std::span<const double> seconds, double alpha) {
  if (terms.size() != seconds.size()) throw Error("fit_cost: " + std::to_string(terms.size()) + " terms for " +
                                                  std::to_string(seconds.size()) + " times");
  FittedCost best;
  best.error = kInfinity;
  for (unsigned mask = alpha >= 0 ? 2 : 1; mask < 8; mask += alpha >= 0 ? 2 : 1) {
    FittedCost f;
    if (fit_subset(terms, seconds, mask, alpha, f) && f.error < best.error) best = f;
  }
  if (!std::isfinite(best.error)) {  // nothing fits: all figures zero (but a given alpha)
    best = {alpha >= 0 ? alpha : 0, 0, 0, 0};
    best.error = relative_rms(terms, seconds, best);
  }
  return best;
}

std::vector<FittedBand> fit_cost_bands(std::span<const double> bytes, std::span<const CostTerms> terms,
                                       std::span<const double> seconds) {
  const size_t n = bytes.size();
  if (terms.size() != n || seconds.size() != n) {
    throw Error("fit_cost_bands: " + std::to_string(n) + " sizes, " + std::to_string(terms.size()) + " terms and " +
                std::to_string(seconds.size()) + " times");
  }
  if (n < 3) return {{0, fit_cost(terms, seconds)}};
  // Below the smallest size a collective is all latency: it takes that size's time. (The
  // line through the two smallest sizes, 4 and 16 KiB, crosses a protocol switch and fell
  // to 0.4 us at 40 bytes, where a 2-rank all-gather took 2.4 us.)
  FittedCost floor;
  floor.offset_s = seconds[0];
  std::vector<FittedBand> out = {{bytes[0], floor}};
  for (size_t k = 0; k + 1 < n; ++k) {
    const double up_to = k + 2 < n ? bytes[k + 1] : 0;
    const auto band_terms = terms.subspan(k, 2);
    const auto band_seconds = seconds.subspan(k, 2);
    FittedCost cost = fit_cost(band_terms, band_seconds);
    // A time that grows faster than its size between two sizes (a buffer that stops fitting
    // in a cache) lies on a line of negative alpha, which non-negative figures miss at both
    // ends. Each band starts at a measured size, so it may take that line: its times run
    // from one measured time to the next, and grow beyond the last.
    FittedCost exact;
    for (unsigned mask : {3u, 5u}) {  // alpha with beta, else alpha with gamma
      if (cost.error > kExact && fit_subset(band_terms, band_seconds, mask, -1, exact, true) && exact.error <= kExact) {
        cost = exact;
        break;
      }
    }
    if (cost.error > kExact && offset_line(band_terms, band_seconds, exact) && exact.error <= kExact) cost = exact;
    out.push_back({up_to, cost});
  }
  return out;
}

const launcher::MeasuredAlgorithm* measured_band(const std::vector<launcher::MeasuredAlgorithm>& algorithms,
                                                 const std::string& primitive, Algorithm algo, double bytes) {
  for (const launcher::MeasuredAlgorithm& m : algorithms) {
    if (m.primitive == primitive && m.algorithm == to_string(algo) && (m.up_to_bytes == 0 || bytes <= m.up_to_bytes)) {
      return bytes > m.from_bytes ? &m : nullptr;
    }
  }
  return nullptr;
}

double measured_seconds(const launcher::MeasuredAlgorithm& band, Algorithm algo, int p, double bytes, int concurrent) {
  const CostTerms t = cost_terms(band.primitive, algo, p, bytes);
  // A band's alpha or offset may be negative (fit_cost_bands): never a time below zero.
  return std::max(0.0, band.offset_s + t.messages * band.alpha_s + t.bytes * band.beta_s_per_byte * concurrent +
                           t.reduced * band.gamma_s_per_byte);
}

}  // namespace spmd::collectives
