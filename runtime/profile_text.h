// What the parts of `spmd profile` (profile_run.h, profile_kernels.h, profile_sync.h) share:
// wall-clock seconds and a formatted line of their tables. Internal to the runtime.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

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

}  // namespace spmd::runtime::profile_text
