// The partitioner picks the plan itself: candidates of the search space (search_space.h)
// are lowered and played by the simulator against the topology, plans over the memory
// limit are rejected, and the fastest step wins. Monte Carlo Tree Search (mcts.h) explores
// large spaces within a budget of simulations; small ones are searched exhaustively, which
// is also the oracle MCTS is tested against. The built-in strategies are costed by the same
// simulator, as baselines.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "launcher/topology.h"
#include "partitioner/device_model.h"
#include "partitioner/lower.h"
#include "partitioner/plan.h"
#include "partitioner/search_space.h"
#include "partitioner/simulator.h"
#include "partitioner/tactics.h"

namespace spmd::partitioner {

struct SearchOptions {
  std::int64_t memory_limit = 0;  // per device; 0: the device model's memory
  DeviceOverrides device;
  int budget = 200;               // simulations MCTS may run
  // Seconds the search may take, on top of the simulations; 0: no limit. A time budget
  // makes the result depend on the machine's speed: the same seed may give another plan.
  double budget_seconds = 0;
  std::uint64_t seed = 1;
  bool exhaustive = false;        // every candidate, whatever the budget
  // How many of the fastest fitting candidates are costed again with the schedule a job
  // runs them with (tuning.h: prefetch depth, gradient buckets) before the winner is
  // taken, as is every fitting baseline: up to 13 simulations each. Beyond them, so is
  // any whose compute alone (which no schedule shortens) is faster than the best tuned
  // step so far, up to `tuned_at_most` in all.
  int tuned = 4;
  int tuned_at_most = 16;
};

struct Evaluated {
  Candidate candidate;
  std::string name;          // the candidate's description, or the baseline's name
  // The plan: in a SearchResult, of the best (explored.front()) only, since every plan
  // held would cost memory of the program's size; Evaluator::plan_of gives any other's.
  // The best's carries its schedule, prediction and axis levels.
  Plan plan;
  Prediction prediction;
  bool fits = false;         // lowered, and its peak within the memory limit
  std::string error;         // why the candidate could not be lowered, if it could not
  // Where set, `prediction` is of the program a job runs (tuning.h), with this schedule;
  // else of the program as lowered (gathers one ahead, no buckets), one simulation.
  std::optional<PlanSchedule> schedule;
  bool gathers_params = false;  // (where tuned) whether the program gathers params at all
  // Where set, the candidate was not lowered: its params, optimizer state and inputs alone
  // (their bytes in `prediction.peak_bytes`, its only figure, a lower bound of its peak)
  // are over the memory limit, so no schedule could make it fit. Evaluator::evaluate with
  // `fully` costs it all the same; a search does so for every candidate it shows.
  bool over_by_sources = false;
};

// Lowers and simulates candidates, each once. A candidate and its twin that recomputes
// activations share their tactics and lowering: the last few lowered are kept for the twin.
// One whose params, state and inputs alone are over the memory limit is not lowered (a
// tenth of the candidates of a 96-layer GPT on 1,024 GPUs) unless asked for fully.
class Evaluator {
 public:
  Evaluator(const ir::Graph& g, const launcher::Topology& topology, const SearchOptions& options);
  const SearchSpace& space() const { return space_; }
  const DeviceModel& device() const { return device_; }
  std::int64_t memory_limit() const { return limit_; }
  // The candidate lowered and simulated, once (later calls return the first result), or
  // only its tactics applied where its sources alone are over the limit (over_by_sources),
  // unless `fully`: then lowered and simulated whatever its sources.
  const Evaluated& evaluate(const Candidate& c, bool fully = false);
  // The candidate's plan: its tactics applied again (a propagation) unless it is among the
  // last few lowered; with its schedule where it was tuned.
  Plan plan_of(const Candidate& c);
  // `e` (an evaluated candidate) costed again with the schedule a job runs it with: its
  // prediction, fit and choices replaced (tuning.h). Once per candidate; up to 13 simulations.
  void tune(Evaluated& e);
  bool was_tuned(const Candidate& c) const { return tuned_.count(c) > 0; }
  int simulations() const { return static_cast<int>(done_.size()); }
  std::vector<Evaluated> explored() const;  // fitting ones first, fastest first

 private:
  CollectiveCosts& costs_for(const Mesh& mesh);
  struct Lowered {
    Plan plan;
    Program program;
  };
  const Lowered& lowered(const Candidate& without_recompute);
  // `plan` lowered (lower_ops) and kept, the oldest kept dropped while they hold more than
  // their bound of nodes.
  const Lowered& keep(const Candidate& without_recompute, Plan plan);
  // The bytes the plan's sources (params, state, inputs) take per device: a lower bound of
  // any lowering's peak. O(values).
  size_t source_bytes(const Plan& plan) const;
  const ir::Graph& graph_;
  const launcher::Topology& topology_;
  SearchSpace space_;
  GraphAnalysis analysis_;  // shared by every candidate's tactics and lowering
  DeviceModel device_;
  std::int64_t limit_;
  std::map<Candidate, Evaluated> done_;
  std::map<Candidate, size_t> over_by_sources_;  // (without recompute) the sources' bytes
  std::map<Candidate, Evaluated> tuned_;
  std::map<Candidate, Lowered> lowered_;
  std::deque<Candidate> lowered_order_;  // oldest first; a bounded number of nodes kept
  size_t lowered_nodes_ = 0;             // in the programs of lowered_
  std::map<std::vector<int>, std::unique_ptr<CollectiveCosts>> costs_;  // by mesh sizes, in order
};

// Whether `a` ranks before `b`: fitting before not fitting, then the shorter step, then the
// smaller peak.
bool better(const Evaluated& a, const Evaluated& b);

struct SearchResult {
  std::vector<Evaluated> explored;   // every candidate simulated, best first
  std::vector<Evaluated> baselines;  // dp, megatron, dp+megatron per model-axis size, zero
  DeviceModel device;
  std::int64_t memory_limit = 0;
  int simulations = 0;
  double seconds = 0;                // wall time of the search
  std::string method;                // "exhaustive" or "MCTS"
  // The winner; throws spmd::Error when no plan fits, naming the smallest peak any plan
  // needs and that plan.
  const Evaluated& best() const;
};

// A node of `devices` cores: where a plan is costed when no topology is given.
launcher::Topology flat_topology(int devices);

// Where a plan of `devices` devices is costed: `topology` when it has that many, else (none
// given, or another count) flat_topology(devices), made in `flat`, which must outlive the
// result. Cost: a copy of nothing when `topology` serves.
const launcher::Topology& topology_or_flat(const launcher::Topology* topology, int devices,
                                           std::optional<launcher::Topology>& flat);

// Records in `plan` the prediction `p` of its program and the levels of `topology` each
// mesh axis spans. Cost: a placement of the mesh.
void record_prediction(Plan& plan, const Prediction& p, const launcher::Topology& topology);

// Simulates `program` (lowered from `plan`) on `topology`, and records the prediction.
Prediction predict_plan(Plan& plan, const Program& program, const launcher::Topology& topology,
                        const DeviceModel& device);

// Searches `g`'s plans for `topology`'s devices: exhaustively where the space has at most
// `options.budget` candidates or `options.exhaustive` is set, else with MCTS.
SearchResult search_plan(const ir::Graph& g, const launcher::Topology& topology, const SearchOptions& options);

}  // namespace spmd::partitioner
