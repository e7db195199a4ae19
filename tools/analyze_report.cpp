#include "tools/analyze_report.h"

#include <cstdio>
#include <map>

#include "tools/plan_report.h"

namespace spmd::tools {
namespace {

using partitioner::DimensionAnalysis;
using partitioner::DimensionClass;
using partitioner::DimensionConflict;

// What a class looks like apart from its layer: its size, role, and the op and dimension of
// each member in graph order. One class per layer groups into one row, read from the
// program's structure, so a model whose values are named otherwise groups alike.
std::string class_shape(const ir::Graph& g, const DimensionClass& c) {
  std::string key = std::to_string(c.size) + "/" + c.role + "/";
  for (const partitioner::DimRef& m : c.members) key += g.node(m.value).op + std::to_string(m.dim) + ",";
  return key;
}

// "d_ff" of "d_ff#7".
std::string name_stem(const std::string& name) { return name.substr(0, name.find('#')); }

// Classes alike but for their layer, in the order of their first (largest) class.
std::vector<std::vector<size_t>> group_alike(const ir::Graph& g, const DimensionAnalysis& a) {
  std::vector<std::vector<size_t>> groups;
  std::map<std::string, size_t> group_of;
  for (size_t i = 0; i < a.classes.size(); ++i) {
    auto [it, fresh] = group_of.emplace(class_shape(g, a.classes[i]), groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  return groups;
}

std::string classes_section(const AnalyzeReport& how, const ir::Graph& g, const DimensionAnalysis& a) {
  std::vector<std::vector<size_t>> groups;
  if (how.group_layers) {
    groups = group_alike(g, a);
  } else {
    for (size_t i = 0; i < a.classes.size(); ++i) groups.push_back({i});
  }
  std::string out = "dimension classes (" + std::to_string(a.classes.size()) + (how.group_layers ? ", alike ones in one row" : "") +
                    "), largest first; the dimensions of a class must be sharded alike:\n";
  TextTable table({"class", "size", "members", "examples"});
  size_t shown = std::min(groups.size(), how.max_classes);
  for (size_t i = 0; i < shown; ++i) {
    const DimensionClass& c = a.classes[groups[i].front()];
    std::string name = groups[i].size() == 1 ? c.name : name_stem(c.name) + " x" + std::to_string(groups[i].size());
    std::string members = std::to_string(c.members.size()) + (groups[i].size() == 1 ? "" : " each");
    table.add({name, std::to_string(c.size), members, example_members(g, c, 3)});
  }
  out += table.text("  ");
  if (shown < groups.size()) {
    size_t classes = 0, members = 0;
    for (size_t i = shown; i < groups.size(); ++i) {
      for (size_t c : groups[i]) ++classes, members += a.classes[c].members.size();
    }
    out += "  ... and " + std::to_string(classes) + " smaller classes with " + std::to_string(members) +
           " members (--all lists every class)\n";
  }
  return out;
}

std::string conflicts_section(const AnalyzeReport& how, const DimensionAnalysis& a) {
  std::map<int, std::vector<const DimensionConflict*>> by_class;
  for (const DimensionConflict& c : a.conflicts) by_class[c.class_id].push_back(&c);
  std::string out = "\nconflicts (" + std::to_string(a.conflicts.size()) + " in " + std::to_string(by_class.size()) +
                    (by_class.size() == 1 ? " class" : " classes") + "): sharding the class there needs a redistribution\n";
  if (by_class.empty()) return out + "  none\n";
  TextTable table({"class", "conflicts", "first"});
  std::vector<std::string> more;
  for (const auto& [id, conflicts] : by_class) {
    table.add({a.classes.at(static_cast<size_t>(id)).name, std::to_string(conflicts.size()), conflicts[0]->what});
    std::string rest;
    for (size_t i = 1; i < std::min(conflicts.size(), how.max_examples); ++i) {
      rest += "      " + conflicts[i]->what + "\n";
    }
    if (conflicts.size() > how.max_examples) {
      rest += "      ... " + std::to_string(conflicts.size() - how.max_examples) + " more\n";
    }
    more.push_back(rest);
  }
  return out + table.text("  ", more);
}

}  // namespace

std::string member_text(const ir::Graph& g, const partitioner::DimRef& m) {
  return ir::value_label(g, m.value) + "[" + std::to_string(m.dim) + "]";
}

std::string example_members(const ir::Graph& g, const DimensionClass& c, size_t count) {
  std::vector<std::string> named, unnamed;
  for (const partitioner::DimRef& m : c.members) {
    if (named.size() >= count) break;
    auto& list = g.node(m.value).name.empty() ? unnamed : named;
    if (list.size() < count) list.push_back(member_text(g, m));
  }
  for (size_t i = 0; named.size() < count && i < unnamed.size(); ++i) named.push_back(unnamed[i]);
  std::string out;
  for (size_t i = 0; i < named.size(); ++i) out += (i ? ", " : "") + named[i];
  if (c.members.size() > named.size()) out += ", ...";
  return out;
}

std::string analyze_report(const AnalyzeReport& how, const ir::Graph& g, const DimensionAnalysis& a) {
  return classes_section(how, g, a) + conflicts_section(how, a);
}

std::string duration_text(double seconds) {
  char buf[32];
  if (seconds < 1e-3) std::snprintf(buf, sizeof buf, "%.0f us", seconds * 1e6);
  else if (seconds < 1) std::snprintf(buf, sizeof buf, "%.1f ms", seconds * 1e3);
  else std::snprintf(buf, sizeof buf, "%.2f s", seconds);
  return buf;
}

}  // namespace spmd::tools
