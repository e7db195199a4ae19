// Checks of option values whose failure reads as one short line ("must be a positive
// number, got 0"), where CLI11's own range checks print the limits of a double in full.
// NaN fails both.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "launcher/mpi_wait.h"

namespace spmd::tools {

// `text` read whole as a number; NaN where it is none (or only begins with one).
inline double number_of(const std::string& text) {
  try {
    size_t used = 0;
    const double x = std::stod(text, &used);
    return used == text.size() ? x : std::nan("");
  } catch (const std::exception&) {
    return std::nan("");
  }
}

inline CLI::Validator number_check(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& text) -> std::string {
        const double x = number_of(text);
        bool ok = std::isfinite(x) && (allow_zero ? x >= 0 : x > 0);
        if (ok) return "";
        return std::string("must be ") + (allow_zero ? "a finite number >= 0" : "a positive finite number") +
               ", got '" + text + "'";
      },
      allow_zero ? "NUMBER >= 0" : "NUMBER > 0");
}

// A positive finite number (counts, rates, sizes).
inline const CLI::Validator kPositive = number_check(false);
// A finite number >= 0 (latencies).
inline const CLI::Validator kNonNegative = number_check(true);

// A whole number written in decimal, from `least` to `most`. CLI11 alone reads "010" as octal
// 8 and "0x10" as 16, and clamps 99999999999999999999 to 2^63-1.
inline CLI::Validator count_check(int64_t least, int64_t most) {
  return CLI::Validator(
      [least, most](std::string& text) -> std::string {
        int64_t n = 0;
        const char* end = text.data() + text.size();
        auto [at, error] = std::from_chars(text.data(), end, n);
        const bool decimal = !text.empty() && (text.size() == 1 || text[0] != '0');
        if (decimal && error == std::errc() && at == end && n >= least && n <= most) return "";
        return "must be a whole number from " + std::to_string(least) + " to " + std::to_string(most) + ", got '" +
               text + "'";
      },
      "INT in [" + std::to_string(least) + " - " + std::to_string(most) + "]");
}

// A number from `least` to `most`: a figure of a machine (a link's bandwidth or latency),
// where a value past any machine's predicts times too long to print.
inline CLI::Validator number_between(double least, double most) {
  return CLI::Validator(
      [least, most](std::string& text) -> std::string {
        const double x = number_of(text);
        if (x >= least && x <= most) return "";
        char bounds[64];
        std::snprintf(bounds, sizeof bounds, "from %g to %g", least, most);
        return std::string("must be a number ") + bounds + ", got '" + text + "'";
      },
      "NUMBER");
}

// Counts of steps: up to 2^53, the whole numbers a JSON reader's double holds (metrics files).
inline const CLI::Validator kStepCount = count_check(1, int64_t{1} << 53);
// Counts of ranks, devices and nodes: far beyond any machine, yet an int's worth of devices.
inline const CLI::Validator kRankCount = count_check(1, int64_t{1} << 24);

// A deadline in seconds that a wait takes (launcher::valid_timeout).
inline const CLI::Validator kTimeout(
    [](std::string& text) -> std::string {
      if (launcher::parse_timeout(text)) return "";
      return "must be a number of seconds " + launcher::timeout_range_text() +
             ", got '" + text + "'";
    },
    "SECONDS");

}  // namespace spmd::tools
