// The simulator's predictions against this machine: for each plan runnable on the ranks of
// this job (mlp and gpt; dp, megatron, zero, auto where they apply), the predicted step time
// and peak memory per device next to the measured median step time and the executor's
// planned peak, with their ratios. Run under mpirun for each rank count, e.g.
//   for n in 1 2 4; do mpirun -np $n build/bench/bench_prediction; done
// The predictions use the figures each job measures at bind (Job::bind: no profile); with --profile each plan is run a
// second time bound with the profile (as `spmd run --profile` runs it), its own prediction
// beside its own measured time. Below the table, what the search chose in each run.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench_errors.h"
#include "common/error.h"
#include "common/stats.h"
#include "launcher/world.h"
#include "partitioner/device_model.h"
#include "partitioner/memory_plan.h"
#include "partitioner/profile.h"
#include "partitioner/search.h"
#include "runtime/job.h"

namespace {

using namespace spmd;

struct Row {
  std::string model, plan;
  double predicted_s = 0, measured_s = 0;
  double profiled_s = 0, measured_profiled_s = 0;  // the job bound with the profile
  double predicted_peak = 0, planned_peak = 0;
  std::string chosen{};  // the plan the job ran: its mesh and the tactics that sharded it
};

// "{model: 4} by tactic 1 (class:hidden#1 -> model)": what a search chose, to tell its runs apart.
std::string plan_text(const partitioner::Plan& plan) {
  std::string text = plan.mesh.to_string();
  std::vector<std::string> tactics;
  for (const std::string& o : plan.origin) {
    if (!o.empty() && std::find(tactics.begin(), tactics.end(), o) == tactics.end()) tactics.push_back(o);
  }
  for (size_t i = 0; i < tactics.size(); ++i) text += (i ? ", " : " by ") + tactics[i];
  return text;
}

// Steps that take `seconds` at `step_s` each, at least `least`; the greatest of the ranks'
// counts, so that every rank runs as many.
int64_t steps_for(const launcher::World& world, double seconds, double step_s, int64_t least) {
  const double mine = std::max<double>(static_cast<double>(least), std::ceil(seconds / std::max(step_s, 1e-6)));
  double most = 0;
  for (uint64_t bits : world.all_gather(std::bit_cast<uint64_t>(mine))) most = std::max(most, std::bit_cast<double>(bits));
  return static_cast<int64_t>(most);
}

// A job of the plan, bound as `spmd run` binds it (with the profile when one is given) and
// trained untimed for about 0.2 s (2 steps at least), then timed over about 0.5 s (`steps`
// at least): sub-millisecond steps of ranks sharing cores ran 15-25% slower over their first
// 20 than from the 50th on. Null where the plan does not apply here.
std::unique_ptr<runtime::Job> timed_job(const launcher::World& world, const std::string& model,
                                        const std::string& strategy, int steps, const std::string& profile,
                                        double& median_step_s) {
  runtime::JobDescription d;
  d.program.model = model;
  if (strategy == "auto") {
    d.partitioning.automatic = true;
  } else {
    d.partitioning.strategy = strategy;
  }
  auto job = std::make_unique<runtime::Job>(std::move(d));
  runtime::JobBinding binding(&world);
  binding.profile = profile;
  try {
    job->bind(binding);
  } catch (const Error&) {
    return nullptr;  // the strategy does not apply to this model on these ranks
  }
  std::vector<double> times;
  const auto time = [&](const runtime::StepReport& r) { times.push_back(r.step_time_s); };
  job->train(2, time);
  job->train(steps_for(world, 0.2, median(times), 2) - 2);
  times.clear();
  job->train(1, time);
  job->train(steps_for(world, 0.5, times.front(), steps) - 1, time);
  median_step_s = median(times);
  return job;
}

// The plan measured and predicted with the default figures, and again with the profile's:
// a profile changes what the job runs (its collectives' algorithms, its buckets), so each
// prediction is set against the job it predicts.
std::optional<Row> measure(const launcher::World& world, const std::string& model, const std::string& strategy,
                           int steps, const std::string& profile) {
  Row row{model, strategy};
  std::unique_ptr<runtime::Job> job = timed_job(world, model, strategy, steps, "", row.measured_s);
  if (!job) return std::nullopt;
  row.predicted_s = job->predicted_step_time_s();
  row.chosen = plan_text(job->plan());
  const launcher::Topology topology = job->topology() ? *job->topology() : partitioner::flat_topology(world.size());
  partitioner::Plan plan = job->plan();
  const partitioner::Program program =
      job->partitioned() ? job->program() : partitioner::lower(job->training_step(), plan);
  row.predicted_peak = static_cast<double>(
      partitioner::predict_plan(plan, program, topology, partitioner::device_model(topology)).peak_bytes);
  std::vector<uint64_t> peaks = job->peak_bytes_per_rank();
  row.planned_peak = static_cast<double>(*std::max_element(peaks.begin(), peaks.end()));
  if (!profile.empty()) {
    job.reset();  // gone before the next binds: one job's buffers and threads at a time, as `spmd run`
    job = timed_job(world, model, strategy, steps, profile, row.measured_profiled_s);
    if (!job) throw Error("the " + strategy + " plan of " + model + " binds without the profile " + profile +
                          " but not with it");
    row.profiled_s = job->predicted_step_time_s();
  }
  return row;
}

// The median of `field` over a plan's repeats.
template <class F>
double median_of(const std::vector<Row>& repeats, F field) {
  std::vector<double> x;
  for (const Row& r : repeats) x.push_back(field(r));
  return median(x);
}

// "0.84-0.97": the least and the greatest of a ratio over the repeats.
std::string range_of(const std::vector<Row>& repeats, double (*ratio)(const Row&)) {
  double lo = ratio(repeats.front()), hi = lo;
  for (const Row& r : repeats) lo = std::min(lo, ratio(r)), hi = std::max(hi, ratio(r));
  char text[32];
  std::snprintf(text, sizeof text, "%.2f-%.2f", lo, hi);
  return text;
}

double predicted_ratio(const Row& r) { return r.predicted_s / r.measured_s; }
double profiled_ratio(const Row& r) { return r.profiled_s / r.measured_profiled_s; }

}  // namespace

int main(int argc, char** argv) {
  launcher::World world;
  CLI::App app("Predicted against measured step time and peak memory for the plans runnable here");
  int steps = 7, repeats = 1;
  std::vector<std::string> models = {"mlp", "gpt"};
  std::string profile;
  app.add_option("--profile", profile, "also cost each plan with this profile's measured figures (spmd profile)");
  app.add_option("--steps", steps, "timed steps per plan, at least (median; as many as take 0.5 s where more)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--repeats", repeats, "runs of every plan, taken in turn (medians, and the ratios' range)")
      ->check(CLI::Range(1, 100));
  app.add_option("--models", models, "models to run");
  CLI11_PARSE(app, argc, argv);
  // A profile that cannot be read fails here, on every rank, in one line: the jobs below
  // take a plan that does not bind as one that does not apply to these ranks.
  if (!profile.empty()) {
    const int refused = bench::reporting_errors("bench_prediction", [&] {
      partitioner::read_profile(profile);
      return 0;
    });
    if (refused) return refused;
  }
  // The plans in turn, `repeats` times over: a machine that slows for a minute slows one
  // run of every plan, not every run of one.
  std::vector<std::vector<Row>> plans;
  for (int r = 0; r < repeats; ++r) {
    for (const std::string& model : models) {
      for (const char* strategy : {"dp", "megatron", "zero", "auto"}) {
        std::optional<Row> row;
        try {
          row = measure(world, model, strategy, steps, profile);
        } catch (const Error& e) {  // a profile this plan does not bind with: one line, no core
          std::fprintf(stderr, "bench_prediction: %s\n", e.what());
          return 1;
        }
        if (!row) continue;
        auto same = [&](const std::vector<Row>& p) { return p.front().model == model && p.front().plan == strategy; };
        auto it = std::find_if(plans.begin(), plans.end(), same);
        (it == plans.end() ? plans.emplace_back() : *it).push_back(*row);
      }
    }
  }
  if (!world.lead()) return 0;
  std::printf("%d rank(s); step time and peak per device, predicted against measured (median of %d steps or 0.5 s, of %d runs)\n",
              world.size(), steps, repeats);
  std::printf("%-6s %-9s %10s %10s %7s %12s %10s %7s %10s %10s %7s   %s\n", "model", "plan", "meas ms", "pred ms", "ratio",
              "meas(prof)", "profiled", "ratio", "pred MiB", "exec MiB", "ratio", "ratios over the runs");
  for (const std::vector<Row>& runs : plans) {
    const Row& r = runs.front();
    const double measured = median_of(runs, [](const Row& x) { return x.measured_s; });
    const double predicted = median_of(runs, [](const Row& x) { return x.predicted_s; });
    char profiled[48] = "           -          -       -";  // no profile given
    std::string ranges = range_of(runs, predicted_ratio);
    if (!profile.empty()) {
      std::snprintf(profiled, sizeof profiled, "%12.2f %10.2f %7.2f",
                    median_of(runs, [](const Row& x) { return x.measured_profiled_s; }) * 1e3,
                    median_of(runs, [](const Row& x) { return x.profiled_s; }) * 1e3, median_of(runs, profiled_ratio));
      ranges += ", profiled " + range_of(runs, profiled_ratio);
    }
    std::printf("%-6s %-9s %10.2f %10.2f %7.2f %s %10.2f %10.2f %7.3f   %s\n", r.model.c_str(), r.plan.c_str(),
                measured * 1e3, predicted * 1e3, median_of(runs, predicted_ratio), profiled,
                r.predicted_peak / 1048576.0, r.planned_peak / 1048576.0, r.predicted_peak / r.planned_peak,
                ranges.c_str());
  }
  // What the search chose in each run, and how often: a row whose runs chose differently
  // measured different plans.
  for (const std::vector<Row>& runs : plans) {
    if (runs.front().plan != "auto") continue;
    std::vector<std::pair<std::string, int>> chosen;
    for (const Row& r : runs) {
      auto it = std::find_if(chosen.begin(), chosen.end(), [&](const auto& c) { return c.first == r.chosen; });
      (it == chosen.end() ? chosen.emplace_back(r.chosen, 0) : *it).second++;
    }
    for (const auto& [text, count] : chosen) {
      std::printf("auto on %s: %s (%d of %zu runs)\n", runs.front().model.c_str(), text.c_str(), count, runs.size());
    }
  }
  return 0;
}
