// The median the benchmarks and the profiler report: the machine is noisy, so every timing
// is the median of several runs. O(n log n). How far the runs spread about it. And the
// slowest of the ranks' figures, which a step goes at the pace of. O(n).
#pragma once

#include <algorithm>
#include <vector>

namespace spmd {

// The middle value of `v` (the upper one of the two for an even count); 0 when empty.
inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// How far `v` spreads about its median: half its interquartile range over the median (0.05:
// the middle half of the runs lies within about 5% of it); 0 when empty. O(n log n).
inline double relative_spread(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double mid = v[v.size() / 2];
  return mid > 0 ? (v[v.size() * 3 / 4] - v[v.size() / 4]) / 2 / mid : 0;
}

// A figure timed in rounds (each round's median of its runs, and their spread as above): the
// median of the rounds, and as its spread the larger of the rounds' own (their median) and
// how far the rounds lie apart, which drift in the machine's load between rounds shows and
// the runs of one round cannot. O(r log r) for r rounds.
struct RoundsMedian {
  double median = 0, spread = 0;
};
inline RoundsMedian median_of_rounds(const std::vector<double>& medians, const std::vector<double>& spreads) {
  return {median(medians), std::max(median(spreads), relative_spread(medians))};
}

// The slowest of several ranks' measurements of one figure, leaving out those at 0 (not
// measured): the greatest where the figure is a time, the least where it is a rate; 0 when
// none was measured. Every collective waits for the last rank to reach it.
inline double slowest_measured(const std::vector<double>& figures, bool is_time) {
  double slowest = 0;
  for (double x : figures) {
    if (x > 0) slowest = slowest == 0 ? x : is_time ? std::max(slowest, x) : std::min(slowest, x);
  }
  return slowest;
}

}  // namespace spmd
