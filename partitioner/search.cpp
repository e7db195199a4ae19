#include "partitioner/search.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "common/error.h"
#include "common/units.h"
#include "partitioner/lower.h"
#include "partitioner/mcts.h"
#include "partitioner/placement.h"
#include "partitioner/tuning.h"

namespace spmd::partitioner {

Evaluator::Evaluator(const ir::Graph& g, const launcher::Topology& topology, const SearchOptions& options)
    : graph_(g), topology_(topology), space_(g, topology.num_devices()), analysis_(g),
      device_(device_model(topology, options.device)),
      limit_(partitioner::memory_limit(options.memory_limit, device_)) {}

CollectiveCosts& Evaluator::costs_for(const Mesh& mesh) {
  std::unique_ptr<CollectiveCosts>& costs = costs_[mesh.sizes];
  if (!costs) costs = std::make_unique<CollectiveCosts>(mesh, topology_);
  return *costs;
}

const Evaluator::Lowered& Evaluator::lowered(const Candidate& without_recompute) {
  auto it = lowered_.find(without_recompute);
  if (it != lowered_.end()) return it->second;
  return keep(without_recompute, apply_tactics(analysis_, space_.tactics(without_recompute)));
}

const Evaluator::Lowered& Evaluator::keep(const Candidate& without_recompute, Plan plan) {
  // Programs kept, in nodes: about 200 MiB of them (a node of a lowered program holds about
  // 800 bytes), a dozen of a 96-layer GPT's; enough that a twin evaluated later or a plan
  // tuned after the search is rarely lowered twice.
  constexpr size_t kKeptNodes = size_t{1} << 18;
  Program program = lower_ops(graph_, plan, &analysis_.factors);
  const size_t nodes = program.graph.nodes.size();
  while (!lowered_order_.empty() && lowered_nodes_ + nodes > kKeptNodes) {
    auto oldest = lowered_.find(lowered_order_.front());
    lowered_nodes_ -= oldest->second.program.graph.nodes.size();
    lowered_.erase(oldest);
    lowered_order_.pop_front();
  }
  lowered_nodes_ += nodes;
  lowered_order_.push_back(without_recompute);
  return lowered_.emplace(without_recompute, Lowered{std::move(plan), std::move(program)}).first->second;
}

size_t Evaluator::source_bytes(const Plan& plan) const {
  size_t bytes = 0;
  for (ir::ValueId v = 0; v < graph_.size(); ++v) {
    if (graph_.node(v).is_source()) bytes += static_cast<size_t>(ir::numel(local_shape(graph_, plan, v))) * 4;
  }
  return bytes;
}

const Evaluated& Evaluator::evaluate(const Candidate& c, bool fully) {
  auto it = done_.find(c);
  if (it != done_.end() && !(fully && it->second.over_by_sources)) return it->second;
  Evaluated e;
  e.candidate = c;
  e.name = c.describe();
  try {
    Candidate base = c;
    base.recompute = false;
    const Lowered* l = nullptr;
    if (auto kept = lowered_.find(base); kept != lowered_.end()) l = &kept->second;
    if (!l && !fully && limit_ > 0) {
      auto over = over_by_sources_.find(base);
      if (over == over_by_sources_.end()) {
        Plan plan = apply_tactics(analysis_, space_.tactics(base));
        const size_t sources = source_bytes(plan);
        if (sources <= static_cast<size_t>(limit_)) {
          l = &keep(base, std::move(plan));
        } else {
          over = over_by_sources_.emplace(base, sources).first;
        }
      }
      if (!l) {
        e.over_by_sources = true;
        e.prediction.peak_bytes = over->second;
      }
    }
    if (!e.over_by_sources) {
      if (!l) l = &lowered(base);
      e.prediction = simulate(finish_lowering(l->program, c.recompute), device_, costs_for(l->plan.mesh));
      e.fits = limit_ <= 0 || e.prediction.peak_bytes <= static_cast<size_t>(limit_);
    }
  } catch (const Error& error) {
    e.error = error.what();
  }
  if (it != done_.end()) return it->second = std::move(e);
  return done_.emplace(c, std::move(e)).first->second;
}

Plan Evaluator::plan_of(const Candidate& c) {
  Candidate base = c;
  base.recompute = false;
  auto it = lowered_.find(base);
  Plan plan = it != lowered_.end() ? it->second.plan : apply_tactics(analysis_, space_.tactics(base));
  plan.rematerialize = c.recompute;
  if (auto t = tuned_.find(c); t != tuned_.end()) plan.schedule = t->second.schedule;
  return plan;
}

void Evaluator::tune(Evaluated& e) {
  if (e.schedule || !e.error.empty() || !e.fits) return;  // a schedule only adds to a peak
  auto it = tuned_.find(e.candidate);
  if (it == tuned_.end()) {
    Candidate base = e.candidate;
    base.recompute = false;
    const Lowered& l = lowered(base);
    Evaluated t = e;
    TunedProgram program = tune_schedule(l.program, e.candidate.recompute, device_, costs_for(l.plan.mesh), limit_);
    t.prediction = program.prediction;
    t.fits = limit_ <= 0 || t.prediction.peak_bytes <= static_cast<size_t>(limit_);
    t.schedule = program.schedule;
    t.gathers_params = program.gathers_params;
    it = tuned_.emplace(e.candidate, std::move(t)).first;
  }
  const std::string name = e.name;  // a baseline keeps its own
  e = it->second;
  e.name = name;
}

std::vector<Evaluated> Evaluator::explored() const {
  std::vector<Evaluated> out;
  for (const auto& [c, e] : done_) out.push_back(e);
  std::stable_sort(out.begin(), out.end(), better);
  return out;
}

bool better(const Evaluated& a, const Evaluated& b) {
  if (a.fits != b.fits) return a.fits;
  if (a.error.empty() != b.error.empty()) return a.error.empty();
  if (a.fits && a.prediction.step_time_s != b.prediction.step_time_s) {
    return a.prediction.step_time_s < b.prediction.step_time_s;
  }
  return a.prediction.peak_bytes < b.prediction.peak_bytes;
}

const Evaluated& SearchResult::best() const {
  if (!explored.empty() && explored.front().fits) return explored.front();
  if (explored.empty()) throw Error("no plan of the search space lowers for this model: the space is empty");
  if (!explored.front().error.empty()) {  // every one failed: the first's reason stands for them
    throw Error("no plan of the search space lowers for this model (" + explored.front().name + ": " +
                explored.front().error + ")");
  }
  const Evaluated& least = explored.front();  // the smallest peak, as none fits
  throw Error("no plan fits " + bytes_text(static_cast<double>(memory_limit)) + " per device: the smallest peak is " +
              bytes_text(static_cast<double>(least.prediction.peak_bytes)) + ", of plan " + least.name);
}

namespace {

// dp, megatron, dp+megatron for every model-axis size that divides (model innermost), zero;
// each tuned (`tune`) as soon as it is evaluated, while its lowering is still kept.
std::vector<Evaluated> baselines(Evaluator& evaluator, bool tune) {
  const SearchSpace& space = evaluator.space();
  const int n = space.devices();
  std::vector<Evaluated> out;
  auto add = [&](const std::string& name, Candidate c) {
    Evaluated e = evaluator.evaluate(c, true);  // shown with all its figures
    e.name = name;
    if (tune) evaluator.tune(e);
    out.push_back(std::move(e));
  };
  add("dp", {n, 1, false, ModelSplit::none, false});
  for (int model = 2; model <= n; ++model) {
    if (n % model != 0 || !space.splits(ModelSplit::megatron, model)) continue;
    add(model == n ? "megatron" : "dp+megatron model=" + std::to_string(model),
        {n / model, model, false, ModelSplit::megatron, false});
  }
  if (n > 1) add("zero", {n, 1, false, ModelSplit::none, true});
  return out;
}

// The candidate of least peak among those that do not fit is shown (as the next best, or
// as the least a device would need): it must be costed, not bounded by its sources. A
// bound is never above the peak, so once the least is costed it is the least.
void settle_least_peak(Evaluator& evaluator, std::vector<Evaluated>& explored) {
  for (;;) {
    Evaluated* least = nullptr;
    for (Evaluated& e : explored) {
      if (!e.fits && e.error.empty() && (!least || e.prediction.peak_bytes < least->prediction.peak_bytes)) least = &e;
    }
    if (!least || !least->over_by_sources) return;
    *least = evaluator.evaluate(least->candidate, true);
  }
}

}  // namespace

launcher::Topology flat_topology(int devices) {
  return launcher::load_topology({"synthetic:core:" + std::to_string(devices), 1, launcher::DeviceKind::core});
}

Prediction predict_plan(Plan& plan, const Program& program, const launcher::Topology& topology,
                        const DeviceModel& device) {
  Prediction p = simulate(program, plan.mesh, topology, device);
  record_prediction(plan, p, topology);
  return p;
}

void record_prediction(Plan& plan, const Prediction& p, const launcher::Topology& topology) {
  plan.predicted = PlanCost{p.step_time_s, p.exposed_comm_s, p.peak_bytes};
  plan.axis_levels.clear();
  for (const AxisPlacement& axis : place_mesh(plan.mesh, topology)) {
    plan.axis_levels.emplace_back();
    for (int l : axis.levels) plan.axis_levels.back().push_back(topology.levels()[l].name);
  }
}

const launcher::Topology& topology_or_flat(const launcher::Topology* topology, int devices,
                                           std::optional<launcher::Topology>& flat) {
  if (topology && topology->num_devices() == devices) return *topology;
  return flat.emplace(flat_topology(devices));
}

SearchResult search_plan(const ir::Graph& g, const launcher::Topology& topology, const SearchOptions& options) {
  auto start = std::chrono::steady_clock::now();
  Evaluator evaluator(g, topology, options);
  SearchResult result;
  std::vector<Candidate> all = evaluator.space().all();
  if (options.exhaustive || static_cast<int>(all.size()) <= options.budget) {
    result.method = "exhaustive";
    for (const Candidate& c : all) evaluator.evaluate(c);
  } else {
    result.method = "MCTS";
    run_mcts(evaluator, options.budget, options.seed, options.budget_seconds);
  }
  result.simulations = evaluator.simulations();
  result.baselines = baselines(evaluator, options.tuned > 0);
  result.explored = evaluator.explored();
  // The fastest few and the baselines costed as a job runs them (the baselines among the
  // explored too, so the winner is never slower than one). A schedule only hides
  // communication, never compute, so a candidate whose compute alone is no faster than the
  // best tuned step cannot win: the rest are tuned while they still could (a bound).
  double best_tuned_s = std::numeric_limits<double>::infinity();
  for (const Evaluated& b : result.baselines) {
    if (b.schedule) best_tuned_s = std::min(best_tuned_s, b.prediction.step_time_s);
  }
  int tuned = 0;
  for (int i = 0; i < static_cast<int>(result.explored.size()); ++i) {
    Evaluated& e = result.explored[i];
    const bool may_win = options.tuned > 0 && e.prediction.compute_s < best_tuned_s && tuned < options.tuned_at_most;
    if (!(i < options.tuned || may_win || evaluator.was_tuned(e.candidate))) continue;
    const bool fresh = !evaluator.was_tuned(e.candidate);
    evaluator.tune(e);
    tuned += fresh && e.schedule;
    if (e.schedule) best_tuned_s = std::min(best_tuned_s, e.prediction.step_time_s);
  }
  settle_least_peak(evaluator, result.explored);
  std::stable_sort(result.explored.begin(), result.explored.end(), better);
  if (!result.explored.empty() && result.explored.front().error.empty()) {
    Evaluated& best = result.explored.front();
    best.plan = evaluator.plan_of(best.candidate);
    record_prediction(best.plan, best.prediction, topology);
  }
  result.device = evaluator.device();
  result.memory_limit = evaluator.memory_limit();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace spmd::partitioner
