#include "partitioner/choose.h"

#include "common/error.h"

namespace spmd::partitioner {
namespace {

int sources(const PlanRequest& r) {
  return r.automatic + !r.strategy.empty() + !r.tactics_file.empty() + !r.plan_file.empty() + r.tactics.has_value() +
         r.plan.has_value();
}

Plan searched(const PlanRequest& r, const ir::Graph& g, int devices, const launcher::Topology* topology) {
  if (topology) return search_plan(g, *topology, r.search).best().plan;
  return search_plan(g, flat_topology(devices), r.search).best().plan;
}

Plan plan_of(const PlanRequest& r, const ir::Graph& g, int devices, const launcher::Topology* topology) {
  if (r.automatic) return searched(r, g, devices, topology);
  if (r.plan) return *r.plan;
  if (!r.plan_file.empty()) return read_plan(r.plan_file, g);
  if (r.tactics) return apply_tactics(g, *r.tactics);
  if (!r.tactics_file.empty()) {
    try {
      return apply_tactics(g, read_tactics(r.tactics_file));
    } catch (const Error& e) {
      std::string what = e.what();
      throw Error(what.rfind(r.tactics_file, 0) == 0 ? what : r.tactics_file + ": " + what);
    }
  }
  if (!r.strategy.empty()) return apply_tactics(g, builtin_strategy(r.strategy, g, devices));
  if (devices > 1) return searched(r, g, devices, topology);
  return replicated_plan(g, {{"data"}, {1}});
}

}  // namespace

bool PlanRequest::any() const { return sources(*this) > 0; }

std::string PlanRequest::describe(int devices) const {
  if (automatic) return "the search (auto)";
  if (plan) return "a plan given in code";
  if (!plan_file.empty()) return "plan " + plan_file;
  if (tactics) return "tactics given in code";
  if (!tactics_file.empty()) return "tactics " + tactics_file;
  if (!strategy.empty()) return "strategy " + strategy;
  return devices > 1 ? "the search (auto, the default on several devices)" : "one device";
}

Plan choose_plan(const PlanRequest& request, const ir::Graph& g, int devices, const launcher::Topology* topology) {
  if (sources(request) > 1) throw Error("give one of a strategy, tactics, a plan or the search, not several");
  if ((request.automatic || !request.any()) && devices > 1 && topology && topology->num_devices() != devices) {
    throw Error("the topology has " + std::to_string(topology->num_devices()) + " devices, but " +
                std::to_string(devices) + " ranks run the job");
  }
  Plan plan = plan_of(request, g, devices, topology);
  if (plan.mesh.size() != devices) {
    throw Error("the mesh " + plan.mesh.to_string() + " has " + std::to_string(plan.mesh.size()) + " devices, but " +
                std::to_string(devices) + (devices == 1 ? " rank runs" : " ranks run") + " the job");
  }
  return plan;
}

}  // namespace spmd::partitioner
