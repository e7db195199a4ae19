// The fields a JSON object of ours may have: a key we do not know is a mistake (a typo in
// "scope" must not silently drop ZeRO's scoping), reported by name.
#pragma once

#include <initializer_list>
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

}  // namespace spmd::partitioner
