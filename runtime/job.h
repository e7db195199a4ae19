// spmd::runtime::Job: a training job as a library call, in three stages as hwloc's
// init > configure > load:
//
//   1. describe: Job job({program, partitioning, seed, data}): the training step is built
//      (zoo spec, IR file, or a Graph made in code, differentiated when it is a forward
//      pass). No MPI, no hardware; a user's mistake throws spmd::Error here.
//   2. bind: job.bind({&world}): the job's ranks and hardware (the topology discovered over
//      the world, kernel threads shared out among ranks on the same cores, the CPU backend),
//      the plan chosen for that many devices and lowered to this rank's program, buffers
//      allocated and params initialised. Collective over the world.
//   3. run: job.step() or job.train(n, on_step), collective over the world; every rank gets
//      the same StepReport (loss of the global batch).
//
// The `spmd run` command is this class behind flags.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "kernels/backend.h"
#include "launcher/topology.h"
#include "launcher/world.h"
#include "partitioner/choose.h"
#include "partitioner/lower.h"
#include "runtime/data.h"
#include "runtime/program.h"
#include "runtime/trainer.h"

namespace spmd::runtime {

struct JobDescription {
  ProgramSource program;                 // what to train
  partitioner::PlanRequest partitioning; // how to split it (nothing: dp on several ranks)
  uint64_t seed = 0;                     // initial params and the built-in data's order
  // The program's own data, filled per step for this rank's rows; unset: the graph's
  // built-in source (a corpus for a language model, a synthetic task for a classifier).
  FillFeeds data;
  std::string data_item = "samples";     // what the callback's batch rows are, for throughput
};

struct JobBinding {
  // The job's ranks; null: this process alone (no MPI needed).
  const launcher::World* world = nullptr;
  // The job's hardware, device i = rank i; unset: discovered over the world (hwloc on every
  // rank, one all-gather) when it has several ranks.
  std::optional<launcher::Topology> topology;
  // Kernel threads of this rank; 0: the cores of its device, shared out among the ranks
  // bound to the same cores (runtime/threads.h).
  int threads = 0;

  JobBinding() = default;
  JobBinding(const launcher::World* w) : world(w) {}  // NOLINT: bind(&world) reads well
};

class Job {
 public:
  // Describe. Throws spmd::Error for a bad program (see load_training_step).
  explicit Job(JobDescription description);
  ~Job();
  Job(Job&&) noexcept;
  Job& operator=(Job&&) noexcept;

  // Bind: chooses the plan for the world's ranks (spmd::Error when it does not apply),
  // lowers it, discovers the hardware, builds the backend and the trainer. Collective.
  void bind(JobBinding binding = {});
  bool bound() const { return trainer_ != nullptr; }

  // Run one step, or `steps` steps calling `on_step` after each. Collective.
  StepReport step();
  void train(int64_t steps, const std::function<void(const StepReport&)>& on_step = {});

  // The global training step (describe) and, once bound, the plan and this rank's program.
  const ir::Graph& training_step() const { return graph_; }
  const partitioner::Plan& plan() const;
  const partitioner::Program& program() const;
  std::string plan_source() const;  // "strategy dp (the default ...)", "tactics FILE", ...
  bool partitioned() const { return partitioned_; }
  uint64_t seed() const { return description_.seed; }
  int rank() const;
  int ranks() const;
  const launcher::Topology* topology() const { return topology_.get(); }
  Trainer& trainer();
  const Trainer& trainer() const;

  // Every rank's planned peak memory per step, in rank order. Collective.
  std::vector<uint64_t> peak_bytes_per_rank() const;
  // The whole tensor of a param or optimizer state by name, gathered from the shards.
  // Collective when it is sharded. Throws spmd::Error for an unknown name.
  std::vector<float> value(const std::string& name);

 private:
  std::unique_ptr<DataSource> make_data() const;

  JobDescription description_;
  ir::Graph graph_;
  const launcher::World* world_ = nullptr;
  std::unique_ptr<collectives::Communicator> comm_;
  std::unique_ptr<launcher::Topology> topology_;  // stable address: the trainer keeps it
  std::optional<partitioner::Plan> plan_;
  std::optional<partitioner::Program> program_;
  bool partitioned_ = false;
  std::unique_ptr<kernels::Backend> backend_;
  std::unique_ptr<Trainer> trainer_;
};

}  // namespace spmd::runtime
