// Re-planning while training (hardware in the loop): a job times the kernels and
// collectives of its steps, pairs each with the simulator's prediction of it, refits the
// cost model to them (partitioner/refit.h), searches the plans again under the refitted
// model, and switches to the best one found when it is predicted faster than the running
// plan by more than a threshold: params and optimizer state move to the new layout
// (runtime/reshard.h), the per-device program is rebuilt, and training goes on at the same
// step. What this module holds: the policy, the report of each decision, and the samples a
// plan's steps leave. runtime::Job makes the decisions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "partitioner/refit.h"
#include "runtime/executor.h"
#include "runtime/predicted_timeline.h"

namespace spmd::runtime {

// When a job re-plans: never; once, after the first plan's warm-up; or always, after every
// warm-up window of the running plan.
enum class Replan { never, once, always };
const char* to_string(Replan r);
// "never", "once", "always"; anything else is an spmd::Error naming it.
Replan parse_replan(const std::string& text);

// A plan's first steps, which warm its buffers, caches and kernels up: not samples. The
// second still took 1.2-1.6x the steady step of mlp on 2 ranks here (350-460 us against
// 290), and a window that counted it refitted the model to a slow step.
inline constexpr int64_t kWarmUpSteps = 2;

struct ReplanPolicy {
  Replan when = Replan::never;
  // Steps a plan runs before it is re-planned: the first kWarmUpSteps are not measured,
  // the others are. At least kWarmUpSteps + 1.
  int64_t after = 5;
  // The predicted gain (1 - new / running) a new plan needs for the job to switch to it.
  double threshold = 0.10;
};

// What one re-planning decided (kept, switched), or, one window after a switch, what the
// switch gave (realized). Every rank gets the same report.
struct ReplanReport {
  enum class Kind { kept, switched, realized } kind = Kind::kept;
  int64_t step = 0;             // the step after which it was decided (or measured)
  std::string fit;              // the refitted model, "kernels 1.30x + 4.1 us (...); collectives 2.50x (...)"
  std::string from, to;         // the running plan and the best found (equal when kept for that)
  double measured_s = 0;        // the running plan's median step over the window
  double predicted_from_s = 0;  // the running plan's step under the refitted model
  double predicted_to_s = 0;    // the best plan's step under it
  double realized_s = 0;        // realized: the new plan's median step over its window
  std::string why;              // one line: the decision and its reason
  // The predicted gain, 1 - predicted_to_s / predicted_from_s.
  double predicted_gain() const { return predicted_from_s > 0 ? 1 - predicted_to_s / predicted_from_s : 0; }
};

// The timed steps of one plan: each node's launches, its median time over the steps paired
// with the simulator's time of it, kernels and collectives apart, and each step's wall
// time. One point a node, its median: a step slowed by a burst of interference moves it
// no more than a step of its own.
class PlanSamples {
 public:
  // `predicted`: the simulator's step of `graph` (predicted_timeline) on `device`, whose
  // roofline sorts the kernels into compute-bound and memory-bound.
  PlanSamples(const ir::Graph& graph, const std::vector<PredictedLaunch>& predicted,
              const partitioner::DeviceModel& device);
  // One timed step's launches (the executor's timeline), and its wall time.
  void add(const std::vector<LaunchTime>& launches, double step_s);
  // A step whose launches were not timed (a device backend times one in ten).
  void add_untimed(double step_s) { steps_.push_back(step_s); }
  // Each timed node of the class, (predicted, median measured). O(launches).
  std::vector<partitioner::TimedLaunch> compute_kernels() const { return of_class(Class::compute); }
  std::vector<partitioner::TimedLaunch> memory_kernels() const { return of_class(Class::memory); }
  std::vector<partitioner::TimedLaunch> collectives() const { return of_class(Class::collective); }
  double median_step_s() const;  // 0 without steps

 private:
  enum class Class : char { compute, memory, collective };
  std::vector<partitioner::TimedLaunch> of_class(Class c) const;

  std::vector<double> predicted_s_;  // per node, 0 where nothing runs
  std::vector<Class> class_;  // per node
  std::vector<std::vector<double>> measured_s_;  // per node, a time per timed step that ran it
  std::vector<double> steps_;
};

}  // namespace spmd::runtime
