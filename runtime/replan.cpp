#include "runtime/replan.h"

#include <algorithm>

#include "common/error.h"
#include "ir/ops.h"

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

PlanSamples::PlanSamples(const ir::Graph& graph, const std::vector<PredictedLaunch>& predicted)
    : predicted_s_(graph.size(), 0), collective_(graph.size(), false) {
  for (const PredictedLaunch& l : predicted) predicted_s_.at(l.node) += l.duration_s;
  for (ir::ValueId v = 0; v < graph.size(); ++v) collective_[v] = ir::op_traits(graph.node(v).op).collective;
}

void PlanSamples::add(const std::vector<LaunchTime>& launches, double step_s) {
  for (const LaunchTime& l : launches) {
    const partitioner::TimedLaunch t{predicted_s_.at(l.node), l.end_s - l.start_s};
    (collective_.at(l.node) ? collectives_ : kernels_).push_back(t);
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
