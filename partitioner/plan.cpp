#include "partitioner/plan.h"

#include <cstdio>
#include <fstream>

#include "common/files.h"
#include "common/error.h"
#include "partitioner/json_fields.h"

namespace spmd::partitioner {

std::string sharding_text(const Sharding& s, const Mesh& mesh) {
  std::string out = "[";
  for (size_t d = 0; d < s.dims.size(); ++d) {
    if (d) out += ", ";
    if (s.dims[d].empty()) out += "-";
    for (size_t i = 0; i < s.dims[d].size(); ++i) out += (i ? "." : "") + mesh.names.at(s.dims[d][i]);
  }
  out += "]";
  if (!s.partial.empty()) {
    out += " partial(";
    for (size_t i = 0; i < s.partial.size(); ++i) out += (i ? "," : "") + mesh.names.at(s.partial[i]);
    out += ")";
  }
  return out;
}

Plan replicated_plan(const ir::Graph& g, const Mesh& mesh) {
  Plan p;
  p.model = g.meta.s("model", "");
  p.mesh = mesh;
  for (const ir::Node& n : g.nodes) p.shardings.push_back({std::vector<std::vector<int>>(n.type.shape.size()), {}});
  p.origin.assign(g.nodes.size(), "");
  return p;
}

ir::Shape local_shape(const ir::Graph& g, const Plan& plan, ir::ValueId v) {
  try {
    return collectives::local_shape(g.type(v).shape, plan.mesh.sizes, plan.of(v));
  } catch (const Error& e) {
    throw Error(ir::value_label(g, v) + " " + ir::to_string(g.type(v)) + ": " + e.what());
  }
}

nlohmann::ordered_json to_json(const Plan& plan, const ir::Graph& g) {
  nlohmann::ordered_json values = nlohmann::ordered_json::array();
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const Sharding& s = plan.of(v);
    nlohmann::ordered_json dims = nlohmann::ordered_json::array();
    for (const auto& axes : s.dims) {
      nlohmann::ordered_json names = nlohmann::ordered_json::array();
      for (int a : axes) names.push_back(plan.mesh.names[a]);
      dims.push_back(names);
    }
    nlohmann::ordered_json partial = nlohmann::ordered_json::array();
    for (int a : s.partial) partial.push_back(plan.mesh.names[a]);
    values.push_back({{"value", ir::value_label(g, v)}, {"dims", dims}, {"partial", partial}, {"origin", plan.origin[v]}});
  }
  nlohmann::ordered_json mesh = to_json(plan.mesh);
  for (size_t a = 0; a < plan.axis_levels.size() && a < mesh.size(); ++a) mesh[a]["levels"] = plan.axis_levels[a];
  nlohmann::ordered_json out = {{"model", plan.model}, {"mesh", mesh}};
  if (plan.rematerialize) out["rematerialize"] = true;
  if (plan.schedule) {
    // Bytes are whole: written as an integer, as every other size in the file.
    out["schedule"] = {{"prefetch", plan.schedule->prefetch},
                       {"bucket_bytes", static_cast<std::int64_t>(plan.schedule->bucket_bytes)},
                       {"overlap", plan.schedule->overlap}};
  }
  if (plan.predicted) {
    out["predicted"] = {{"step_time_s", plan.predicted->step_time_s}, {"exposed_comm_s", plan.predicted->exposed_comm_s},
                        {"peak_bytes", plan.predicted->peak_bytes}};
  }
  out["values"] = values;
  return out;
}

namespace {

void read_placement_and_cost(const nlohmann::ordered_json& j, Plan& p) {
  const auto& mesh = j.at("mesh");
  if (mesh.is_array() && !mesh.empty() && mesh[0].contains("levels")) {
    for (const auto& axis : mesh) p.axis_levels.push_back(axis.value("levels", std::vector<std::string>{}));
  }
  if (j.contains("schedule")) {
    const auto& s = j.at("schedule");
    require_known_keys(s, {"prefetch", "bucket_bytes", "overlap"}, "the plan's schedule");
    if (s.contains("overlap") && !s.at("overlap").is_boolean()) {
      throw Error("the plan's schedule has an overlap that is not true or false");
    }
    p.schedule = PlanSchedule{whole_number<int>(s.at("prefetch"), "the plan's prefetch depth"),
                              s.at("bucket_bytes").get<double>(), s.value("overlap", true)};
    if (p.schedule->prefetch < 0 || !(p.schedule->bucket_bytes >= 0)) {
      throw Error("the plan's schedule needs a prefetch depth and a bucket size of at least 0");
    }
  }
  if (!j.contains("predicted")) return;
  const auto& c = j.at("predicted");
  require_known_keys(c, {"step_time_s", "exposed_comm_s", "peak_bytes"}, "the plan's predicted cost");
  p.predicted = PlanCost{c.at("step_time_s").get<double>(), c.at("exposed_comm_s").get<double>(),
                         whole_number<size_t>(c.at("peak_bytes"), "the plan's predicted peak_bytes")};
}

}  // namespace

Plan plan_from_json(const nlohmann::ordered_json& j, const ir::Graph& g) {
  try {
    require_known_keys(j, {"mesh", "model", "predicted", "rematerialize", "schedule", "values"}, "the plan");
    Plan p = replicated_plan(g, mesh_from_json(j.at("mesh")));
    p.rematerialize = j.value("rematerialize", false);
    read_placement_and_cost(j, p);
    std::string model = j.value("model", "");
    if (model != g.meta.s("model", "")) {
      throw Error("the plan is for model '" + model + "', not '" + g.meta.s("model", "") + "'");
    }
    const auto& values = j.at("values");
    if (values.size() != g.nodes.size()) {
      throw Error("the plan has " + std::to_string(values.size()) + " values, the program " + std::to_string(g.size()));
    }
    for (ir::ValueId v = 0; v < g.size(); ++v) {
      const auto& entry = values[v];
      require_known_keys(entry, {"value", "dims", "partial", "origin"}, "value " + std::to_string(v));
      if (entry.at("value").get<std::string>() != ir::value_label(g, v)) {
        throw Error("value " + std::to_string(v) + " of the plan is " + entry.at("value").get<std::string>() +
                    ", the program's is " + ir::value_label(g, v));
      }
      Sharding s;
      for (const auto& axes : entry.at("dims")) {
        s.dims.emplace_back();
        for (const auto& name : axes) s.dims.back().push_back(p.mesh.axis(name.get<std::string>()));
      }
      for (const auto& name : entry.at("partial")) s.partial.push_back(p.mesh.axis(name.get<std::string>()));
      // A source is fed or initialised whole on every device: a partial sum it is not.
      if (!s.partial.empty() && g.node(v).is_source()) {
        throw Error(ir::value_label(g, v) + " is a " + g.node(v).op + ": it cannot be partial over '" +
                    p.mesh.names[static_cast<size_t>(s.partial[0])] + "'");
      }
      if (s.dims.size() != g.type(v).shape.size()) {
        throw Error(ir::value_label(g, v) + ": the sharding has " + std::to_string(s.dims.size()) + " dimensions, the value " +
                    std::to_string(g.type(v).shape.size()));
      }
      p.shardings[v] = s;
      p.origin[v] = entry.value("origin", "");
      local_shape(g, p, v);
    }
    return p;
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("malformed plan: ") + e.what());
  }
}

Plan read_plan(const std::string& path, const ir::Graph& g) {
  std::string text = read_text_file(path, "plan file");
  try {
    return plan_from_json(nlohmann::ordered_json::parse(text), g);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not JSON: " + json_error_text(e, text));
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

void write_plan(const std::string& path, const Plan& plan, const ir::Graph& g) {
  write_file_atomically(path, to_json(plan, g).dump(1) + "\n", "plan file");
}

}  // namespace spmd::partitioner
