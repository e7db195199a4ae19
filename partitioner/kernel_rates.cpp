#include "partitioner/kernel_rates.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/error.h"

namespace spmd::partitioner {
namespace {

std::vector<double> distinct(const std::vector<GemmPoint>& points, double GemmPoint::*dimension) {
  std::vector<double> values;
  for (const GemmPoint& p : points) values.push_back(p.*dimension);
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

// Where `x` falls among `values`: the index below it and the weight of the one above, in
// log space, held at the ends.
std::pair<size_t, double> locate(const std::vector<double>& values, double x) {
  if (values.size() == 1 || x <= values.front()) return {0, 0.0};
  if (x >= values.back()) return {values.size() - 2, 1.0};
  const size_t above = static_cast<size_t>(std::upper_bound(values.begin(), values.end(), x) - values.begin());
  const double t = std::log(x / values[above - 1]) / std::log(values[above] / values[above - 1]);
  return {above - 1, t};
}

size_t index_of(const std::vector<double>& values, double x) {
  return static_cast<size_t>(std::lower_bound(values.begin(), values.end(), x) - values.begin());
}

}  // namespace

GemmRates::GemmRates(std::vector<GemmPoint> points) : points_(std::move(points)) {
  for (const GemmPoint& p : points_) {
    for (double figure : {p.m, p.n, p.k, p.flops_per_s}) {
      if (!(figure > 0) || !std::isfinite(figure)) {
        throw Error("a matmul rate's m, n, k and flops_per_s must be positive numbers");
      }
    }
  }
  m_ = distinct(points_, &GemmPoint::m), n_ = distinct(points_, &GemmPoint::n), k_ = distinct(points_, &GemmPoint::k);
  if (points_.size() != m_.size() * n_.size() * k_.size()) {
    throw Error("the matmul rates are no grid: " + std::to_string(points_.size()) + " points for " +
                std::to_string(m_.size()) + " m x " + std::to_string(n_.size()) + " n x " + std::to_string(k_.size()) +
                " k values (each combination once)");
  }
  rates_.assign(points_.size(), 0);
  for (const GemmPoint& p : points_) {
    double& slot = rates_[(index_of(m_, p.m) * n_.size() + index_of(n_, p.n)) * k_.size() + index_of(k_, p.k)];
    if (slot > 0) throw Error("the matmul rates give m, n, k = " + std::to_string(p.m) + ", " + std::to_string(p.n) +
                              ", " + std::to_string(p.k) + " twice");
    slot = p.flops_per_s;
  }
}

double GemmRates::rate(double m, double n, double k) const {
  if (points_.empty()) return 0;
  const auto [i, ti] = locate(m_, m);
  const auto [j, tj] = locate(n_, n);
  const auto [l, tl] = locate(k_, k);
  double sum = 0;
  for (int corner = 0; corner < 8; ++corner) {
    const size_t di = corner & 1, dj = (corner >> 1) & 1, dl = (corner >> 2) & 1;
    const double w = (di ? ti : 1 - ti) * (dj ? tj : 1 - tj) * (dl ? tl : 1 - tl);
    if (w == 0) continue;  // also keeps a one-value dimension from reading past its end
    sum += w * rates_[((i + di) * n_.size() + j + dj) * k_.size() + l + dl];
  }
  // Below the grid's smallest value a dimension runs no faster than at it: the kernel pads
  // it to its vectors' and blocks' width. 2-rank mlp's GEMMs with n or k of 10 ran 1.4-2.3x
  // the time the rate held at 16 gave.
  for (auto [d, values] : {std::pair{m, &m_}, std::pair{n, &n_}, std::pair{k, &k_}}) {
    if (d > 0 && d < values->front()) sum *= d / values->front();
  }
  return sum;
}

GemmRates GemmRates::scaled(double factor) const {
  std::vector<GemmPoint> points = points_;
  for (GemmPoint& p : points) p.flops_per_s *= factor;
  return GemmRates(std::move(points));
}

double rate_at(const RateCurve& curve, double size, double fallback) {
  if (curve.empty()) return fallback;
  if (size <= curve.front().first) return curve.front().second;
  for (size_t i = 1; i < curve.size(); ++i) {
    if (size > curve[i].first) continue;
    const double t = std::log(size / curve[i - 1].first) / std::log(curve[i].first / curve[i - 1].first);
    return curve[i - 1].second + t * (curve[i].second - curve[i - 1].second);
  }
  return curve.back().second;
}

}  // namespace spmd::partitioner
