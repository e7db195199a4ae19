// The fields a JSON object of ours may have: a key we do not know is a mistake (a typo in
// "scope" must not silently drop ZeRO's scoping), reported by name.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace spmd::partitioner {

// Throws spmd::Error "<where> has an unknown key 'KEY' (expected a, b or c)" when `j` is an
// object with a key outside `known`, or "<where> must be a JSON object" when it is not one.
inline void require_known_keys(const nlohmann::ordered_json& j, std::initializer_list<std::string_view> known,
                               const std::string& where) {
  if (!j.is_object()) throw Error(where + " must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    bool ok = false;
    for (std::string_view k : known) ok = ok || k == key;
    if (ok) continue;
    std::string expected;
    size_t i = 0;
    for (std::string_view k : known) {
      expected += (i == 0 ? "" : i + 1 == known.size() ? " or " : ", ") + std::string(k);
      ++i;
    }
    throw Error(where + " has an unknown key '" + key + "' (expected " + expected + ")");
  }
}

// The whole number `j` holds, within [least, most]: nlohmann's get<int>() would truncate
// 1.5 to 1 and wrap 4294967298 to 2. Throws "<what> must be a whole number from L to M, got
// X" otherwise.
template <typename Int>
Int whole_number(const nlohmann::ordered_json& j, const std::string& what, Int least = std::numeric_limits<Int>::min(),
                 Int most = std::numeric_limits<Int>::max()) {
  // A long double holds every int64 and uint64 exactly (x86's 64-bit mantissa).
  const long double x = j.is_number_unsigned() ? static_cast<long double>(j.get<uint64_t>())
                        : j.is_number_integer() ? static_cast<long double>(j.get<int64_t>())
                        : j.is_number_float()   ? static_cast<long double>(j.get<double>())
                                                : std::nanl("");
  if (std::isfinite(x) && x == std::floor(x) && x >= least && x <= most) return static_cast<Int>(x);
  throw Error(what + " must be a whole number from " + std::to_string(least) + " to " + std::to_string(most) + ", got " +
              j.dump());
}

// nlohmann's message for `e`, met parsing `text`, saying where: a syntax error says its line
// and column already; a number beyond a double ("number overflow parsing '1e999'") is
// reported without them, so they are added, those of the number's first appearance as a
// value in `text`. O(size of text).
inline std::string json_error_text(const nlohmann::json::exception& e, const std::string& text) {
  std::string message = e.what();
  const std::string_view quote = "parsing '";
  const size_t from = message.find(quote);
  if (e.id != 406 || from == std::string::npos) return message;
  const size_t begin = from + quote.size(), end = message.find('\'', begin);
  if (end == std::string::npos) return message;
  const std::string number = message.substr(begin, end - begin);
  const auto bounds_value = [](char c) { return std::string_view(" \t\r\n:,[]{}").find(c) != std::string_view::npos; };
  for (size_t at = text.find(number); at != std::string::npos; at = text.find(number, at + 1)) {
    const size_t after = at + number.size();
    if ((at > 0 && !bounds_value(text[at - 1])) || (after < text.size() && !bounds_value(text[after]))) continue;
    const size_t line_start = text.rfind('\n', at);
    const size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
    const size_t column = at - (line_start == std::string::npos ? 0 : line_start + 1) + 1;
    return message + " at line " + std::to_string(line) + ", column " + std::to_string(column);
  }
  return message;
}

}  // namespace spmd::partitioner
