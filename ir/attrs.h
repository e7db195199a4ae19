// Attributes of an op: a small ordered map from name to an integer, a real, a string or a
// list of integers. Ordered so that printing is deterministic.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace spmd::ir {

using AttrValue = std::variant<int64_t, double, std::string, std::vector<int64_t>>;

class Attrs {
 public:
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  void set(const std::string& key, AttrValue value) { values_[key] = std::move(value); }

  // Typed getters: the one-argument forms throw spmd::Error when the attribute is missing or
  // of another type; the two-argument forms return `fallback` when it is missing.
  int64_t i(const std::string& key) const;
  int64_t i(const std::string& key, int64_t fallback) const;
  double f(const std::string& key) const;
  double f(const std::string& key, double fallback) const;
  const std::string& s(const std::string& key) const;
  std::string s(const std::string& key, const std::string& fallback) const;
  const std::vector<int64_t>& ints(const std::string& key) const;

  const std::map<std::string, AttrValue>& all() const { return values_; }
  bool operator==(const Attrs&) const = default;

 private:
  std::map<std::string, AttrValue> values_;
};

// Checks the values of `attrs` (of an op, or a graph's meta): no real is NaN, and the reals
// whose name fixes their meaning stay in range: std, decay, weight_decay >= 0; eps, lr > 0;
// beta1, beta2, momentum in [0, 1); all of those and gain, value finite. Throws spmd::Error
// "attribute NAME = VALUE: must be ..." on the first that is not.
void check_attr_values(const Attrs& attrs);

}  // namespace spmd::ir
