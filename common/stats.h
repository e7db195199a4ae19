// The median the benchmarks and the profiler report: the machine is noisy, so every timing
// is the median of several runs. O(n log n).
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

}  // namespace spmd
