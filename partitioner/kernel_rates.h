// Measured kernel rates by problem (a profile, runtime/profile_run.h), read for the problems
// a program has: a matmul's FLOP/s by its m, n and k, since a GEMM reaches its peak only when
// every dimension is large (a k of 16 runs at a fraction of a k of 1024 at equal FLOP), and a
// memory-bound op's bytes/s by the bytes it moves, since data within the caches moves faster
// than data from memory. Rates are of the work beyond a kernel's fixed cost
// (DeviceModel::op_latency_s), so that latency + work / rate is what was measured.
#pragma once

#include <utility>
#include <vector>

namespace spmd::partitioner {

// One measured matmul: [m,k] x [k,n] at `flops_per_s`.
struct GemmPoint {
  double m = 0, n = 0, k = 0, flops_per_s = 0;
  bool operator==(const GemmPoint&) const = default;
};

// Matmul FLOP/s on a full grid of m, n and k values (every m with every n and every k).
class GemmRates {
 public:
  GemmRates() = default;
  // Throws spmd::Error (saying what is wrong) unless every figure is positive and the points
  // fill a grid, each combination once. O(points log points).
  explicit GemmRates(std::vector<GemmPoint> points);
  bool empty() const { return points_.empty(); }
  const std::vector<GemmPoint>& points() const { return points_; }
  // The FLOP/s of an [m,k] x [k,n] problem: trilinear in log m, log n and log k between the
  // grid's values, held beyond its largest; below its smallest, the time held (the rate
  // times m / m0, n / n0, k / k0 for each dimension under the smallest value d0). O(grid
  // values per dimension).
  double rate(double m, double n, double k) const;
  // Every rate times `factor`.
  GemmRates scaled(double factor) const;
  bool operator==(const GemmRates& other) const { return points_ == other.points_; }

 private:
  std::vector<double> m_, n_, k_;  // the grid's values of each dimension, increasing
  std::vector<double> rates_;      // of (m_[i], n_[j], k_[l]) at (i * n_.size() + j) * k_.size() + l
  std::vector<GemmPoint> points_;  // as given
};

// (size, rate) pairs by increasing size: FLOP per call and FLOP/s, or bytes per call and
// bytes/s.
using RateCurve = std::vector<std::pair<double, double>>;

// The rate of a problem of `size` on `curve`: linear in log(size) between its points, held
// at its ends beyond them; `fallback` when the curve is empty. O(points).
double rate_at(const RateCurve& curve, double size, double fallback);

}  // namespace spmd::partitioner
