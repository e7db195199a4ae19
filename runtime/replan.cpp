#include "runtime/replan.h"

#include <map>

#include "common/error.h"
#include "common/stats.h"
#include "ir/ops.h"
#include "partitioner/cost_model.h"

namespace spmd::runtime {

const char* to_string(Replan r) {
  switch (r) {
    case Replan::never: return "never";
    case Replan::once: return "once";
    case Replan::always: return "always";
  }
  return "?";
}

Replan parse_replan(const std::string& text) {
  for (Replan r : {Replan::never, Replan::once, Replan::always}) {
    if (text == to_string(r)) return r;
  }
  throw Error("re-planning '" + text + "' is none of never, once, always");
}

PlanSamples::PlanSamples(const ir::Graph& graph, const std::vector<PredictedLaunch>& predicted,
                         const partitioner::DeviceModel& device)
    : predicted_s_(graph.size(), 0), class_(graph.size(), Class::memory), measured_s_(graph.size()) {
  for (const PredictedLaunch& l : predicted) predicted_s_.at(l.node) += l.duration_s;
  for (ir::ValueId v = 0; v < graph.size(); ++v) {
    if (ir::op_traits(graph.node(v).op).collective) {
      class_[v] = Class::collective;
    } else if (partitioner::compute_bound(graph, v, device)) {
      class_[v] = Class::compute;
    }
  }
}

void PlanSamples::add(const std::vector<LaunchTime>& launches, double step_s) {
  // A node's launches of the step summed, as its predicted time sums its predicted ones.
  std::map<ir::ValueId, double> step;
  for (const LaunchTime& l : launches) step[l.node] += l.end_s - l.start_s;
  for (const auto& [node, seconds] : step) measured_s_.at(node).push_back(seconds);
  steps_.push_back(step_s);
}

std::vector<partitioner::TimedLaunch> PlanSamples::of_class(Class c) const {
  std::vector<partitioner::TimedLaunch> out;
  for (size_t v = 0; v < measured_s_.size(); ++v) {
    if (class_[v] == c && !measured_s_[v].empty()) out.push_back({predicted_s_[v], median(measured_s_[v])});
  }
  return out;
}

double PlanSamples::median_step_s() const { return steps_.empty() ? 0 : median(steps_); }

}  // namespace spmd::runtime
