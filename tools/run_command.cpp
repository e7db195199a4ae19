// spmd run MODEL|FILE.ir: trains, on one rank or partitioned over every rank of the job
// (--strategy, --tactics, --plan; data parallel by default on several ranks), and prints
// from rank 0 step, loss, step time and throughput; --metrics writes one JSON object per step.
// The job itself is runtime::Job; this file parses flags and prints.
#include <cstdio>
#include <memory>

#include "common/units.h"
#include "runtime/job.h"
#include "runtime/metrics_file.h"
#include "tools/validators.h"
#include "tools/commands.h"
#include "tools/partition_options.h"
#include "tools/program.h"
#include "tools/progress.h"

namespace spmd::tools {
namespace {

struct RunOptions {
  runtime::JobDescription job;
  int64_t steps = 100;
  int64_t log_every = 10;
  std::string metrics;
  std::string seed_text = "0";
};

void print_header(const runtime::Job& job, const RunOptions& o) {
  const ir::Graph& g = job.training_step();
  const runtime::Executor& ex = job.trainer().executor();
  std::printf("spmd run %s  (%s, lr %g, seed %llu)\n", g.meta.s("model", o.job.program.describe()).c_str(),
              g.meta.s("optimizer", "?").c_str(), o.job.program.lr.value_or(g.meta.f("lr", 1e-3)),
              static_cast<unsigned long long>(job.seed()));
  if (job.partitioned()) {
    std::printf("partitioned: %s on %d %s, mesh %s\n", job.plan_source().c_str(), job.ranks(),
                job.ranks() == 1 ? "rank" : "ranks", job.plan().mesh.to_string().c_str());
  }
  std::printf("data: %s\n", job.trainer().data().describe().c_str());
  std::printf("memory: params, state and inputs %s; activations %s planned (%s without reuse)\n",
              bytes_text(ex.persistent_bytes()).c_str(), bytes_text(ex.memory_plan().arena_bytes).c_str(),
              bytes_text(ex.memory_plan().naive_bytes).c_str());
}

// Every rank's planned peak: the figure that decides whether a plan fits.
void print_memory_per_rank(const std::vector<uint64_t>& peaks) {
  if (peaks.size() < 2) return;
  std::string line = "peak memory per rank:";
  for (size_t r = 0; r < peaks.size(); ++r) line += (r ? ", r" : " r") + std::to_string(r) + " " + bytes_text(peaks[r]);
  std::printf("%s\n", line.c_str());
}

void run(const RunOptions& o, const launcher::World& world) {
  runtime::JobDescription description = o.job;
  description.seed = parse_seed(o.seed_text);
  runtime::Job job = describe_job(description);
  job.bind({&world});
  const bool lead = world.lead();
  runtime::MetricsFile metrics(lead ? o.metrics : "", job.trainer().data().item_name());
  if (lead) print_header(job, o);
  std::vector<uint64_t> peaks = job.peak_bytes_per_rank();
  if (lead) print_memory_per_rank(peaks);
  const std::string item = job.trainer().data().item_name();
  // Under mpirun stdout is a pipe or pty of mpirun's, whatever the user's terminal: no bar.
  ProgressBar bar(lead && world.size() == 1 ? o.steps : 0);
  job.train(o.steps, [&](const runtime::StepReport& r) {
    if (!lead) return;
    metrics.write(r);
    if (r.step == 1 || r.step % o.log_every == 0 || r.step == o.steps) {
      bar.clear();
      std::printf("step %5lld  loss %.4f  %8.1f ms  %9.0f %s/s\n", static_cast<long long>(r.step), r.loss,
                  r.step_time_s * 1e3, r.items_per_s, item.c_str());
      std::fflush(stdout);
    }
    char status[64];
    std::snprintf(status, sizeof status, "loss %.4f", r.loss);
    bar.update(r.step, status);
  });
  bar.clear();
  metrics.close();
}

}  // namespace

void add_run_command(CLI::App& app, const launcher::World* world) {
  auto o = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("run", "Train a model (zoo spec or IR file)");
  add_program_options(*cmd, o->job.program);
  add_partition_options(*cmd, o->job.partitioning);
  cmd->add_option("--steps", o->steps, "training steps")->check(kPositive);
  cmd->add_option("--seed", o->seed_text, "seed of the initial parameters and the data order (0 to 2^64-1)");
  cmd->add_option("--log-every", o->log_every, "print every K steps")->check(kPositive);
  cmd->add_option("--metrics", o->metrics, "write one JSON object per step to this file");
  cmd->callback([o, world] { run(*o, *world); });
}

}  // namespace spmd::tools
