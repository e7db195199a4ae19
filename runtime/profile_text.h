// What the parts of `spmd profile` (profile_run.h, profile_kernels.h, profile_sync.h,
// profile_links.h, profile_collectives.h) share: wall-clock seconds, a formatted line of
// their tables, a brief median timing and the message sizes. Internal to the runtime.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/stats.h"

namespace spmd::runtime::profile_text {

using Clock = std::chrono::steady_clock;

inline double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
inline double seconds_since(Clock::time_point start) { return seconds_between(start, Clock::now()); }

// `format` filled in, as printf does, up to 320 characters.
std::string line(const char* format, auto... values) {
  char text[320];
  std::snprintf(text, sizeof text, format, values...);
  return text;
}

// The median seconds of 5 timed runs of `fn` after one untimed.
template <class F>
double median_of_5_runs(F&& fn) {
  fn();
  std::vector<double> t;
  for (int r = 0; r < 5; ++r) {
    const auto start = Clock::now();
    fn();
    t.push_back(seconds_since(start));
  }
  return median(t);
}

// The message sizes `spmd profile` times: 4 KiB, and each 4x larger up to `max_bytes`.
inline std::vector<double> sizes_up_to(double max_bytes) {
  std::vector<double> sizes;
  for (double b = 4096; b <= max_bytes; b *= 4) sizes.push_back(b);
  return sizes;
}

}  // namespace spmd::runtime::profile_text
