#include <charconv>

#include "ir/text.h"

namespace spmd::ir {
namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// The shortest text that parses back to exactly `x`, always recognisable as a real.
std::string real(double x) {
  char buf[64];
  auto end = std::to_chars(buf, buf + sizeof buf, x).ptr;
  std::string s(buf, end);
  if (s.find_first_of(".eni") == std::string::npos) s += ".0";
  return s;
}

std::string attr_value(const AttrValue& v) {
  if (auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&v)) return real(*d);
  if (auto* s = std::get_if<std::string>(&v)) return quoted(*s);
  const auto& list = std::get<std::vector<int64_t>>(v);
  return to_string(Shape(list.begin(), list.end()));
}

std::string attrs_text(const Attrs& attrs) {
  if (attrs.all().empty()) return "";
  std::string s = "{";
  bool first = true;
  for (const auto& [k, v] : attrs.all()) {
    if (!first) s += ", ";
    first = false;
    s += k + "=" + attr_value(v);
  }
  return s + "}";
}

}  // namespace

std::string print(const Graph& g) {
  std::string out = "spmd-ir 1\n";
  if (!g.meta.all().empty()) out += "meta " + attrs_text(g.meta) + "\n";
  for (ValueId v = 0; v < g.size(); ++v) {
    const Node& n = g.node(v);
    out += value_label(g, v) + " = " + n.op;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      out += (i ? ", " : " ") + value_label(g, n.inputs[i]);
    }
    std::string a = attrs_text(n.attrs);
    if (!a.empty()) out += " " + a;
    out += " : " + to_string(n.type) + "\n";
  }
  for (const auto& [name, v] : g.outputs) out += "output " + name + " = " + value_label(g, v) + "\n";
  for (const auto& [target, v] : g.updates) {
    out += "update " + value_label(g, target) + " = " + value_label(g, v) + "\n";
  }
  return out;
}

}  // namespace spmd::ir
