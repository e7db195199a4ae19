#include "partitioner/tactics.h"

#include <fnmatch.h>

#include <algorithm>
#include <fstream>
#include <optional>

#include "common/error.h"
#include "common/files.h"
#include "partitioner/json_fields.h"
#include "partitioner/dimensions.h"
#include "partitioner/propagation.h"

namespace spmd::partitioner {
namespace {

// The dimension analysis, made once for all the class tactics of a plan.
class Classes {
 public:
  explicit Classes(const ir::Graph& g, const DimensionAnalysis* known = nullptr) : g_(g), known_(known) {}
  const DimensionAnalysis& analysis() {
    if (known_) return *known_;
    if (!analysis_) analysis_ = analyze_dimensions(g_);
    return *analysis_;
  }

 private:
  const ir::Graph& g_;
  const DimensionAnalysis* known_;
  std::optional<DimensionAnalysis> analysis_;
};

// "d_ff" names every class of that role (d_ff, d_ff#2, ...: alike dimensions of different
// layers are classes of their own); "d_ff#2" one of them, "d_ff#1" the first (printed d_ff).
bool class_matches(const std::string& pattern, const std::string& name) {
  size_t hash = pattern.find('#');
  if (hash == std::string::npos) return name == pattern || name.rfind(pattern + "#", 0) == 0;
  if (pattern.compare(hash, std::string::npos, "#1") == 0) return name == pattern.substr(0, hash);
  return name == pattern;
}

std::vector<DimRef> class_targets(const ir::Graph& g, const Plan& plan, const std::string& pattern, int axis,
                                  Classes& classes) {
  std::vector<DimRef> out;
  bool named = false;
  for (const DimensionClass& c : classes.analysis().classes) {
    if (!class_matches(pattern, c.name)) continue;
    named = true;
    for (const DimRef& m : c.members) {
      if (can_take(g, plan, m.value, m.dim, axis)) out.push_back(m);
    }
  }
  if (!named) throw Error("no dimension class named '" + pattern + "' (see spmd analyze)");
  if (out.empty()) throw Error("the axis divides no dimension of class '" + pattern + "'");
  return out;
}

// The dimensions a tactic picks directly (before propagation).
std::vector<DimRef> targets(const ir::Graph& g, const Plan& plan, const Tactic& t, int axis, Classes& classes) {
  size_t colon = t.values.find(':');
  if (colon == std::string::npos) throw Error("pattern '" + t.values + "' needs a kind, as param:layer*.w");
  std::string kind = t.values.substr(0, colon), glob = t.values.substr(colon + 1);
  if (kind == "class") return class_targets(g, plan, glob, axis, classes);
  std::vector<DimRef> out;
  if (kind != "param" && kind != "input" && kind != "state" && kind != "value") {
    throw Error("unknown pattern kind '" + kind + "' (expected param, input, state, value or class)");
  }
  bool matched = false;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const ir::Node& n = g.node(v);
    if ((kind != "value" && n.op != kind) || n.name.empty() || fnmatch(glob.c_str(), n.name.c_str(), 0) != 0) continue;
    matched = true;
    int rank = n.type.rank();
    if (t.dim < 0) {  // first_divisible; a value that already has the axis keeps it where it is
      bool holds = false;
      for (const auto& axes : plan.of(v).dims) holds = holds || std::count(axes.begin(), axes.end(), axis) > 0;
      for (int d = 0; d < rank && !holds; ++d) {
        if (can_take(g, plan, v, d, axis)) {
          out.push_back({v, d});
          break;
        }
      }
      continue;
    }
    if (t.dim >= rank) throw Error(ir::value_label(g, v) + " has no dimension " + std::to_string(t.dim));
    if (!can_take(g, plan, v, t.dim, axis) &&
        std::count(plan.of(v).dims[t.dim].begin(), plan.of(v).dims[t.dim].end(), axis) == 0) {
      throw Error("axis '" + t.axis + "' of size " + std::to_string(plan.mesh.sizes[axis]) + " cannot split dimension " +
                  std::to_string(t.dim) + " of " + ir::value_label(g, v) + " " + ir::to_string(g.type(v)));
    }
    out.push_back({v, t.dim});
  }
  if (!matched) throw Error("pattern '" + t.values + "' matches no value");
  return out;
}

}  // namespace

std::string Tactic::describe() const {
  // A class names its dimensions itself.
  std::string d = values.rfind("class:", 0) == 0 ? "" : dim < 0 ? " first divisible dim" : " dim " + std::to_string(dim);
  return values + d + " -> " + axis + (scope == "all" ? "" : " (" + scope + " only)");
}

Tactics tactics_from_json(const nlohmann::ordered_json& j) {
  Tactics out;
  require_known_keys(j, {"mesh", "tactics", "rematerialize"}, "the tactics file");
  out.mesh = mesh_from_json(j.at("mesh"));
  if (j.contains("rematerialize") && !j.at("rematerialize").is_boolean()) throw Error("\"rematerialize\" must be true or false");
  out.rematerialize = j.value("rematerialize", false);
  int i = 0;
  for (const auto& item : j.at("tactics")) {
    ++i;
    try {
      Tactic t;
      require_known_keys(item, {"values", "dim", "axis", "scope"}, "the tactic");
      t.values = item.at("values").get<std::string>();
      t.axis = item.at("axis").get<std::string>();
      t.scope = item.value("scope", "all");
      if (t.scope != "all" && t.scope != "optimizer") throw Error("scope must be all or optimizer");
      if (!item.contains("dim")) {
        t.dim = 0;
        if (t.values.rfind("class:", 0) != 0) throw Error("missing \"dim\"");
      } else if (item.at("dim").is_string()) {
        if (item.at("dim").get<std::string>() != "first_divisible") throw Error("dim must be a number or \"first_divisible\"");
        t.dim = -1;
      } else {
        t.dim = whole_number<int>(item.at("dim"), "dim", 0);
      }
      out.tactics.push_back(t);
    } catch (const std::exception& e) {
      throw Error("tactic " + std::to_string(i) + ": " + e.what());
    }
  }
  return out;
}

Tactics read_tactics(const std::string& path) {
  std::string text = read_text_file(path, "tactics file");
  try {
    return tactics_from_json(nlohmann::ordered_json::parse(text));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": " + json_error_text(e, text));
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

namespace {

Plan apply(const ir::Graph& g, const Tactics& t, const GraphAnalysis* known) {
  Plan plan = replicated_plan(g, t.mesh);
  plan.rematerialize = t.rematerialize;
  Classes classes(g, known ? &known->dimensions : nullptr);
  for (size_t i = 0; i < t.tactics.size(); ++i) {
    const Tactic& tactic = t.tactics[i];
    std::string name = "tactic " + std::to_string(i + 1) + " (" + tactic.describe() + ")";
    try {
      int axis = t.mesh.axis(tactic.axis);
      std::vector<DimRef> seeds = targets(g, plan, tactic, axis, classes);
      propagate_axis(g, plan, axis, seeds, tactic.scope == "optimizer" ? Scope::optimizer : Scope::all, name,
                     known ? &known->factors : nullptr);
    } catch (const Error& e) {
      throw Error(name + ": " + e.what());
    }
  }
  return plan;
}

}  // namespace

Plan apply_tactics(const ir::Graph& g, const Tactics& t) { return apply(g, t, nullptr); }

Plan apply_tactics(const GraphAnalysis& a, const Tactics& t) { return apply(a.graph, t, &a); }

}  // namespace spmd::partitioner
