#include "ir/attrs.h"

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

}  // namespace spmd::ir
