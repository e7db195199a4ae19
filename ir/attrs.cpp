#include "ir/attrs.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "common/error.h"

namespace spmd::ir {
namespace {

template <typename T>
const T& get(const std::map<std::string, AttrValue>& values, const std::string& key,
             const char* kind) {
  auto it = values.find(key);
  if (it == values.end()) throw Error("missing attribute '" + key + "'");
  if (const T* v = std::get_if<T>(&it->second)) return *v;
  throw Error("attribute '" + key + "' must be " + kind);
}

}  // namespace

int64_t Attrs::i(const std::string& key) const { return get<int64_t>(values_, key, "an integer"); }
int64_t Attrs::i(const std::string& key, int64_t fallback) const {
  return has(key) ? i(key) : fallback;
}
double Attrs::f(const std::string& key) const {
  auto it = values_.find(key);
  if (it != values_.end()) {
    if (auto* v = std::get_if<int64_t>(&it->second)) return static_cast<double>(*v);
  }
  return get<double>(values_, key, "a number");
}
double Attrs::f(const std::string& key, double fallback) const {
  return has(key) ? f(key) : fallback;
}
const std::string& Attrs::s(const std::string& key) const {
  return get<std::string>(values_, key, "a string");
}
std::string Attrs::s(const std::string& key, const std::string& fallback) const {
  return has(key) ? s(key) : fallback;
}
const std::vector<int64_t>& Attrs::ints(const std::string& key) const {
  return get<std::vector<int64_t>>(values_, key, "a list of integers");
}

namespace {

// What a real attribute of this name means fixes its range: optimizer and initialiser
// settings, normalisation epsilons. Other reals need only not be NaN (a mask's fill may be
// -inf).
struct AttrRange {
  const char* name;
  double low;
  bool low_open;  // low itself is excluded
  double high;    // excluded; infinity for none
};

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr AttrRange kRanges[] = {
    {"std", 0, false, kInf},   {"decay", 0, false, kInf},   {"weight_decay", 0, false, kInf},
    {"eps", 0, true, kInf},    {"lr", 0, true, kInf},        {"beta1", 0, false, 1},
    {"beta2", 0, false, 1},    {"momentum", 0, false, 1},   {"gain", -kInf, true, kInf},
    {"value", -kInf, true, kInf},
};

std::string format_real(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", x);
  return text;
}

std::string range_text(const AttrRange& r) {
  if (r.high == 1) return "in [0, 1)";
  if (r.low == -kInf) return "a finite number";
  return r.low_open ? "a positive finite number" : "a finite number >= 0";
}

}  // namespace

void check_attr_values(const Attrs& attrs) {
  for (const auto& [name, value] : attrs.all()) {
    // A whole number written without a point ("std=-1") parses as an integer: same range.
    double real = 0;
    if (const auto* i = std::get_if<int64_t>(&value)) {
      real = static_cast<double>(*i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      real = *d;
    } else {
      continue;
    }
    const double* x = &real;
    if (std::isnan(*x)) throw Error("attribute " + name + " = nan: must be a number");
    for (const AttrRange& r : kRanges) {
      if (name != r.name) continue;
      bool ok = std::isfinite(*x) && (r.low_open ? *x > r.low : *x >= r.low) && *x < r.high;
      if (!ok) throw Error("attribute " + name + " = " + format_real(*x) + ": must be " + range_text(r));
      // Kernels compute in f32: a setting beyond its range would be infinite there.
      if (std::abs(*x) > std::numeric_limits<float>::max()) {
        throw Error("attribute " + name + " = " + format_real(*x) + ": beyond the largest f32");
      }
    }
  }
}

}  // namespace spmd::ir
