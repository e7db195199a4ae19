// Numbers users see, with their units: sizes in binary multiples, times in s, ms or us.
#pragma once

#include <cstdio>
#include <string>

namespace spmd {

// "12 B", "976.6 KiB", "64 MiB", "1.5 GiB": four significant digits at most.
inline std::string bytes_text(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) bytes /= 1024, ++unit;
  char text[32];
  std::snprintf(text, sizeof text, "%.4g %s", bytes, units[unit]);
  return text;
}

// "1.234 s", "12.345 ms", "3.40 us".
inline std::string seconds_text(double seconds) {
  char text[32];
  if (seconds >= 1) std::snprintf(text, sizeof text, "%.3f s", seconds);
  else if (seconds >= 1e-3) std::snprintf(text, sizeof text, "%.3f ms", seconds * 1e3);
  else std::snprintf(text, sizeof text, "%.2f us", seconds * 1e6);
  return text;
}

// `value` printed by `format`, a printf format of one double: figure("%.1f us", 2.5e-6 * 1e6).
inline std::string figure(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

}  // namespace spmd
