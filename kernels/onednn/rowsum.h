// Internal to the CPU backend: deterministic vectorisable sums along a contiguous row. A
// fixed set of lanes is accumulated in a fixed order and then added together, so the result
// depends only on the data, never on threads, and the compiler can keep the lanes in one
// vector register.
#pragma once

#include <cstdint>

namespace spmd::kernels::cpu {

constexpr int kLanes = 16;

// sum_j f(j) for j in [0, n), accumulated in float lanes.
template <typename F>
float lane_sum(int64_t n, F&& f) {
  float lane[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) lane[l] += f(j + l);
  }
  for (int l = 0; j < n; ++j, ++l) lane[l] += f(j);
  float total = 0.f;
  for (int l = 0; l < kLanes; ++l) total += lane[l];
  return total;
}

}  // namespace spmd::kernels::cpu
