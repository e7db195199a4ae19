#include "tools/sizes.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/error.h"

namespace spmd::tools {
namespace {

// The multiplier of a size suffix, dd-style: K, M, G, T and KiB .. TiB are powers of 1024,
// KB .. TB powers of 1000, B or nothing is bytes. Case-insensitive. 0 when unknown.
double unit_factor(std::string unit) {
  std::ranges::transform(unit, unit.begin(), [](unsigned char c) { return std::tolower(c); });
  if (unit.empty() || unit == "b") return 1;
  const std::string prefixes = "kmgt";
  size_t power = prefixes.find(unit[0]);
  if (power == std::string::npos) return 0;
  std::string rest = unit.substr(1);
  double base = rest == "b" ? 1000 : (rest.empty() || rest == "i" || rest == "ib") ? 1024 : 0;
  return std::pow(base, static_cast<double>(power + 1));
}

}  // namespace

double parse_size(const std::string& text, const std::string& option) {
  const char* first = text.data();
  const char* last = first + text.size();
  double number = 0;
  auto [end, ec] = std::from_chars(first, last, number);
  while (ec == std::errc{} && end != last && *end == ' ') ++end;  // "64 MiB"
  double factor = ec == std::errc{} ? unit_factor(std::string(end, last)) : 0;
  if (factor == 0 || !(number > 0) || !std::isfinite(number)) {
    throw Error(option + " '" + text + "' is not a size: expected a positive number of bytes, optionally " +
                "with a unit (4KiB, 64MiB, 1GiB, 1000000)");
  }
  // Whole bytes, from one byte to far beyond any memory or message (an exbibyte).
  constexpr double kMostBytes = 1152921504606846976.0;  // 2^60
  const double bytes = number * factor;
  if (bytes < 1 || bytes > kMostBytes) {
    throw Error(option + " '" + text + "' is " + (bytes < 1 ? "less than a byte" : "more than an exbibyte (2^60 bytes)"));
  }
  return std::round(bytes);
}

}  // namespace spmd::tools
