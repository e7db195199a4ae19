#include "runtime/replan.h"

#include <algorithm>

#include "common/error.h"
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
    : predicted_s_(graph.size(), 0), class_(graph.size(), Class::memory) {
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
  for (const LaunchTime& l : launches) {
    const partitioner::TimedLaunch t{predicted_s_.at(l.node), l.end_s - l.start_s};
    switch (class_.at(l.node)) {
      case Class::compute: compute_kernels_.push_back(t); break;
      case Class::memory: memory_kernels_.push_back(t); break;
      case Class::collective: collectives_.push_back(t); break;
    }
  }
  steps_.push_back(step_s);
}

double PlanSamples::median_step_s() const {
  if (steps_.empty()) return 0;
  std::vector<double> sorted = steps_;
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  return sorted[sorted.size() / 2];
}

}  // namespace spmd::runtime
