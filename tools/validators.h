// Checks of option values whose failure reads as one short line ("must be a positive
// number, got 0"), where CLI11's own range checks print the limits of a double in full.
// NaN fails both.
#pragma once

#include <cmath>
#include <string>

#include <CLI/CLI.hpp>

#include "launcher/mpi_wait.h"

namespace spmd::tools {

inline CLI::Validator number_check(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& text) -> std::string {
        double x = 0;
        try {
          size_t used = 0;
          x = std::stod(text, &used);
          if (used != text.size()) x = std::nan("");
        } catch (const std::exception&) {
          x = std::nan("");
        }
        bool ok = std::isfinite(x) && (allow_zero ? x >= 0 : x > 0);
        if (ok) return "";
        return std::string("must be ") + (allow_zero ? "a finite number >= 0" : "a positive finite number") +
               ", got '" + text + "'";
      },
      allow_zero ? "NUMBER >= 0" : "NUMBER > 0");
}

// A positive finite number (counts, rates, sizes).
inline const CLI::Validator kPositive = number_check(false);
// A finite number >= 0 (latencies, ranks).
inline const CLI::Validator kNonNegative = number_check(true);

// A deadline in seconds that a wait takes (launcher::valid_timeout).
inline const CLI::Validator kTimeout(
    [](std::string& text) -> std::string {
      if (launcher::parse_timeout(text)) return "";
      return "must be a number of seconds from 0 to " + std::to_string(static_cast<long long>(launcher::kLongestTimeoutS)) +
             ", got '" + text + "'";
    },
    "SECONDS");

}  // namespace spmd::tools
