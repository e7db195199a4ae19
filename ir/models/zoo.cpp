#include "ir/models/zoo.h"

#include <charconv>
#include <set>

#include "common/error.h"

namespace spmd::ir {
namespace {

struct ZooEntry {
  const char* name;
  std::map<std::string, int64_t> defaults;
  Graph (*build)(const ModelSpec&);
};

const std::vector<ZooEntry>& zoo() {
  static const std::vector<ZooEntry> entries = {
      {"mlp", {{"layers", 2}, {"hidden", 256}, {"batch", 64}, {"features", 32}, {"classes", 10}}, build_mlp},
      {"gpt",
       {{"layers", 2}, {"d_model", 256}, {"heads", 4}, {"seq", 128}, {"vocab", 256}, {"batch", 8}},
       build_gpt},
  };
  return entries;
}

const ZooEntry* find_entry(const std::string& name) {
  for (const ZooEntry& e : zoo()) {
    if (name == e.name) return &e;
  }
  return nullptr;
}

std::string known_keys(const ZooEntry& e) {
  std::string s;
  for (const auto& [k, v] : e.defaults) s += (s.empty() ? "" : ", ") + k;
  return s;
}

}  // namespace

std::string ModelSpec::text() const {
  std::string s = name;
  char sep = ':';
  for (const auto& [k, v] : params) {
    s += sep + k + "=" + std::to_string(v);
    sep = ',';
  }
  return s;
}

bool is_model_spec(const std::string& text) {
  return find_entry(text.substr(0, text.find(':'))) != nullptr;
}

ModelSpec parse_model_spec(const std::string& spec) {
  std::string name = spec.substr(0, spec.find(':'));
  const ZooEntry* entry = find_entry(name);
  if (!entry) throw Error("unknown model '" + name + "' (known: mlp, gpt)");
  ModelSpec out{name, entry->defaults};
  if (name.size() == spec.size()) return out;
  std::string rest = spec.substr(name.size() + 1);
  std::set<std::string> given;
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = std::min(rest.find(',', start), rest.size());
    std::string item = rest.substr(start, end - start);
    start = end + 1;
    size_t eq = item.find('=');
    std::string key = item.substr(0, eq);
    if (!entry->defaults.count(key)) {
      throw Error("model '" + name + "': unknown hyper-parameter '" + key + "' (known: " + known_keys(*entry) + ")");
    }
    int64_t value = 0;
    const char* first = item.data() + std::min(eq + 1, item.size());
    auto [p, ec] = std::from_chars(first, item.data() + item.size(), value);
    if (eq == std::string::npos || ec != std::errc() || p != item.data() + item.size() || value <= 0) {
      throw Error("model '" + name + "': '" + item + "' needs a positive integer, as " + key + "=4");
    }
    if (!given.insert(key).second) throw Error("model '" + name + "': '" + key + "' is given twice");
    out.params[key] = value;
  }
  return out;
}

Graph build_model(const ModelSpec& spec) {
  Graph g = find_entry(spec.name)->build(spec);
  g.meta.set("model", spec.text());
  if (!g.meta.has("data")) g.meta.set("data", std::string("synthetic"));
  return g;
}

Graph build_model(const std::string& spec) { return build_model(parse_model_spec(spec)); }

std::vector<std::string> zoo_models() {
  std::vector<std::string> out;
  for (const ZooEntry& e : zoo()) out.push_back(ModelSpec{e.name, e.defaults}.text());
  return out;
}

}  // namespace spmd::ir
