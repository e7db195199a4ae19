// Inputs for the collective tests and their expected results, computed locally. Inputs are
// integers in [-1000, 1000], so sums over up to thousands of ranks are exact in f32 and the
// result does not depend on the reduction order.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "collectives/algorithms/segmented.h"
#include "collectives/primitives.h"

namespace spmd::collectives {
// Test names and failure messages show the algorithm's name.
inline void PrintTo(Algorithm algo, std::ostream* os) { *os << to_string(algo); }
}  // namespace spmd::collectives

namespace spmd::collectives::testing {

inline float input_value(int rank, int64_t i) {
  const uint64_t h = (static_cast<uint64_t>(rank) + 1) * 2654435761u ^ (static_cast<uint64_t>(i) + 7) * 40503u;
  return static_cast<float>(static_cast<int64_t>((h * 2246822519u >> 16) % 2001) - 1000);
}

inline std::vector<float> inputs(int rank, int64_t n) {
  std::vector<float> values(n);
  for (int64_t i = 0; i < n; ++i) values[i] = input_value(rank, i);
  return values;
}

// Element i reduced over ranks 0..p-1.
inline std::vector<float> reduced(int p, int64_t n, ReduceOp op) {
  std::vector<float> result = inputs(0, n);
  for (int r = 1; r < p; ++r) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = input_value(r, i);
      result[i] = op == ReduceOp::sum ? result[i] + v : std::max(result[i], v);
    }
  }
  return result;
}

// Element by element; reports the first difference and how many there are.
inline void expect_elements(std::span<const float> got, std::span<const float> want) {
  ASSERT_EQ(got.size(), want.size());
  int64_t differences = 0, first = -1;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] == want[i]) continue;
    if (differences++ == 0) first = static_cast<int64_t>(i);
  }
  if (differences > 0) {
    ADD_FAILURE() << differences << " of " << got.size() << " elements differ; first at " << first << ": got "
                  << got[first] << ", want " << want[first];
  }
}

inline const char* op_name(ReduceOp op) { return op == ReduceOp::sum ? "sum" : "max"; }

// Empty, smaller than p, not a multiple of p, and one long enough to be cut into segments
// (2 segments + 1 element: on 2 ranks the two ring blocks take 2 and 1 segments).
inline std::vector<int64_t> test_counts(int p) {
  return {0, 1, p - 1, 7, 1000, 4099, 2 * static_cast<int64_t>(algorithms::kSegmentFloats) + 1};
}

}  // namespace spmd::collectives::testing
