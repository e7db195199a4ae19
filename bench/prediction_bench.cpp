// The simulator's predictions against this machine: for each plan runnable on the ranks of
// this job (mlp and gpt; dp, megatron, zero, auto where they apply), the predicted step time
// and peak memory per device next to the measured median step time and the executor's
// planned peak, with their ratios. Run under mpirun for each rank count, e.g.
//   for n in 1 2 4; do mpirun -np $n build/bench/bench_prediction; done
// The predictions use the figures each job measures at bind (Job::bind: no profile); with --profile each plan is run a
// second time bound with the profile (as `spmd run --profile` runs it), its own prediction
// beside its own measured time.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/stats.h"
#include "common/error.h"
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
};

// A job of the plan, bound as `spmd run` binds it (with the profile when one is given) and
// trained for steps + 2, the first two untimed; null where the plan does not apply here.
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
  job->train(steps + 2, [&](const runtime::StepReport& r) {
    if (r.step > 2) times.push_back(r.step_time_s);
  });
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
  const launcher::Topology topology = job->topology() ? *job->topology() : partitioner::flat_topology(world.size());
  partitioner::Plan plan = job->plan();
  const partitioner::Program program =
      job->partitioned() ? job->program() : partitioner::lower(job->training_step(), plan);
  row.predicted_peak = static_cast<double>(
      partitioner::predict_plan(plan, program, topology, partitioner::device_model(topology)).peak_bytes);
  std::vector<uint64_t> peaks = job->peak_bytes_per_rank();
  row.planned_peak = static_cast<double>(*std::max_element(peaks.begin(), peaks.end()));
  if (!profile.empty()) {
    job = timed_job(world, model, strategy, steps, profile, row.measured_profiled_s);
    row.profiled_s = job->predicted_step_time_s();
  }
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  launcher::World world;
  CLI::App app("Predicted against measured step time and peak memory for the plans runnable here");
  int steps = 7;
  std::vector<std::string> models = {"mlp", "gpt"};
  std::string profile;
  app.add_option("--profile", profile, "also cost each plan with this profile's measured figures (spmd profile)");
  app.add_option("--steps", steps, "timed steps per plan (median)");
  app.add_option("--models", models, "models to run");
  CLI11_PARSE(app, argc, argv);
  std::vector<Row> rows;
  for (const std::string& model : models) {
    for (const char* strategy : {"dp", "megatron", "zero", "auto"}) {
      if (auto row = measure(world, model, strategy, steps, profile)) rows.push_back(*row);
    }
  }
  if (!world.lead()) return 0;
  std::printf("%d rank(s); step time and peak per device, predicted against measured (median of %d steps)\n",
              world.size(), steps);
  std::printf("%-6s %-9s %10s %10s %7s %12s %10s %7s %10s %10s %7s\n", "model", "plan", "meas ms", "pred ms", "ratio",
              "meas(prof)", "profiled", "ratio", "pred MiB", "exec MiB", "ratio");
  for (const Row& r : rows) {
    char profiled[48] = "           -          -       -";  // no profile given
    if (!profile.empty()) {
      std::snprintf(profiled, sizeof profiled, "%12.2f %10.2f %7.2f", r.measured_profiled_s * 1e3, r.profiled_s * 1e3,
                    r.profiled_s / r.measured_profiled_s);
    }
    std::printf("%-6s %-9s %10.2f %10.2f %7.2f %s %10.2f %10.2f %7.3f\n", r.model.c_str(), r.plan.c_str(),
                r.measured_s * 1e3, r.predicted_s * 1e3, r.predicted_s / r.measured_s, profiled,
                r.predicted_peak / 1048576.0, r.planned_peak / 1048576.0, r.predicted_peak / r.planned_peak);
  }
  return 0;
}
