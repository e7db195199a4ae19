// FNV-1a, 64 bits: a small, stable hash (the same on every platform and run), which is
// what fingerprints kept across restarts and compared across ranks need.
#pragma once

#include <bit>
#include <cstdint>
#include <string_view>

namespace spmd::launcher {

class Fnv1a {
 public:
  Fnv1a& add(std::string_view text) {
    for (unsigned char c : text) byte(c);
    byte(0xff);  // separator: ("ab", "c") and ("a", "bc") differ
    return *this;
  }
  Fnv1a& add(std::int64_t value) {
    for (int i = 0; i < 8; ++i) byte(static_cast<unsigned char>(value >> (8 * i)));
    return *this;
  }
  Fnv1a& add(double value) { return add(std::bit_cast<std::int64_t>(value)); }
  std::uint64_t value() const { return state_; }

 private:
  void byte(unsigned char c) {
    state_ ^= c;
    state_ *= 0x100000001b3ULL;
  }
  std::uint64_t state_ = 0xcbf29ce484222325ULL;
};

}  // namespace spmd::launcher
