// spmd run MODEL|FILE.ir: trains, on one rank or partitioned over every rank of the job
// (--strategy, --tactics, --plan; data parallel by default on several ranks), and prints
// from rank 0 step, loss, step time and throughput; --metrics writes one JSON object per step.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "common/units.h"
#include "collectives/mpi/mpi_communicator.h"
#include "common/error.h"
#include "kernels/backend.h"
#include "launcher/topology.h"
#include "partitioner/lower.h"
#include "tools/partition_options.h"
#include "runtime/trainer.h"
#include "tools/commands.h"
#include "tools/program.h"
#include "tools/progress.h"

namespace spmd::tools {
namespace {

struct RunOptions {
  ProgramOptions program;
  PartitionOptions partition;
  int64_t steps = 100;
  uint64_t seed = 0;
  int64_t log_every = 10;
  std::string metrics;
};

void print_header(const runtime::Trainer& t, const ir::Graph& g, const RunOptions& o, int ranks) {
  const auto& plan = t.executor().memory_plan();
  std::printf("spmd run %s  (%s, lr %g, seed %llu)\n", g.meta.s("model", o.program.model).c_str(),
              g.meta.s("optimizer", "?").c_str(), o.program.lr.value_or(g.meta.f("lr", 1e-3)),
              static_cast<unsigned long long>(o.seed));
  if (g.meta.has("mesh")) {
    std::printf("partitioned: %s on %d %s, mesh %s\n", plan_source(o.partition, ranks).c_str(), ranks,
                ranks == 1 ? "rank" : "ranks", g.meta.s("mesh").c_str());
  }
  std::printf("data: %s\n", t.data().describe().c_str());
  std::printf("memory: params, state and inputs %s; activations %s planned (%s without reuse)\n",
              bytes_text(t.executor().persistent_bytes()).c_str(),
              bytes_text(plan.arena_bytes).c_str(), bytes_text(plan.naive_bytes).c_str());
}

// Rank 0 prints every rank's planned peak: the figure that decides whether a plan fits.
void print_memory_per_rank(const runtime::Trainer& t, collectives::MpiCommunicator& world) {
  unsigned long long mine = t.executor().peak_bytes();
  std::vector<unsigned long long> all(static_cast<size_t>(world.size()));
  MPI_Gather(&mine, 1, MPI_UNSIGNED_LONG_LONG, all.data(), 1, MPI_UNSIGNED_LONG_LONG, 0, world.handle());
  if (world.rank() != 0 || world.size() == 1) return;
  std::string line = "peak memory per rank:";
  for (size_t r = 0; r < all.size(); ++r) line += (r ? ", " : " ") + std::string("r") + std::to_string(r) + " " + bytes_text(all[r]);
  std::printf("%s\n", line.c_str());
}

nlohmann::json metrics_record(const runtime::StepReport& r, const std::string& item) {
  return {{"step", r.step},
          {"loss", r.loss},
          {"step_time_s", r.step_time_s},
          {item + "_per_s", r.items_per_s},
          {"peak_bytes", r.peak_bytes}};
}

// Ranks bound to the same cores (mpirun --bind-to none, or --oversubscribe) would each run
// as many kernel threads as those cores, and fight over them: give each its share instead,
// unless OMP_NUM_THREADS says otherwise.
void share_cores(const launcher::Topology& t, int rank) {
  const launcher::Device& me = t.device(rank);
  if (std::getenv("OMP_NUM_THREADS") || me.cpuset.empty()) return;
  int sharing = 0;
  for (const launcher::Device& d : t.devices()) sharing += d.node == me.node && d.cpuset == me.cpuset;
  if (sharing > 1) kernels::set_cpu_threads(std::max(1, launcher::processing_units(me) / sharing));
}

void run(const RunOptions& o) {
  ir::Graph g = load_training_step(o.program);
  collectives::MpiCommunicator world(MPI_COMM_WORLD);
  const int ranks = world.size();
  const bool partitioned = ranks > 1 || o.partition.any();
  if (partitioned) g = partitioner::lower(g, choose_plan(o.partition, g, ranks)).graph;
  // The job's hardware, so that collectives run the schedules synthesized for it.
  std::optional<launcher::Topology> topology;
  if (ranks > 1) {
    topology = launcher::discover_job(MPI_COMM_WORLD);
    share_cores(*topology, world.rank());
  }
  auto backend = kernels::make_cpu_backend();
  runtime::Trainer trainer(g, *backend, o.seed, o.program.lr, partitioned ? &world : nullptr,
                           topology ? &*topology : nullptr);
  const bool lead = world.rank() == 0;
  std::ofstream metrics;
  if (!o.metrics.empty() && lead) {
    metrics.open(o.metrics);
    if (!metrics) throw Error("cannot write metrics file '" + o.metrics + "'");
  }
  if (lead) print_header(trainer, g, o, ranks);
  print_memory_per_rank(trainer, world);
  const std::string item = trainer.data().item_name();
  // Under mpirun stdout is a pipe or pty of mpirun's, whatever the user's terminal: no bar.
  ProgressBar bar(lead && ranks == 1 ? o.steps : 0);
  for (int64_t s = 0; s < o.steps; ++s) {
    runtime::StepReport r = trainer.step();
    if (!lead) continue;
    if (metrics.is_open()) metrics << metrics_record(r, item).dump() << "\n" << std::flush;
    if (r.step == 1 || r.step % o.log_every == 0 || r.step == o.steps) {
      bar.clear();
      std::printf("step %5lld  loss %.4f  %8.1f ms  %9.0f %s/s\n", static_cast<long long>(r.step), r.loss,
                  r.step_time_s * 1e3, r.items_per_s, item.c_str());
      std::fflush(stdout);
    }
    char status[64];
    std::snprintf(status, sizeof status, "loss %.4f", r.loss);
    bar.update(r.step, status);
  }
  bar.clear();
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("run", "Train a model (zoo spec or IR file)");
  add_program_options(*cmd, o->program);
  add_partition_options(*cmd, o->partition);
  cmd->add_option("--steps", o->steps, "training steps")->check(CLI::PositiveNumber);
  cmd->add_option("--seed", o->seed, "seed of the initial parameters and the data order");
  cmd->add_option("--log-every", o->log_every, "print every K steps")->check(CLI::PositiveNumber);
  cmd->add_option("--metrics", o->metrics, "write one JSON object per step to this file");
  cmd->callback([o] { run(*o); });
}

}  // namespace spmd::tools
