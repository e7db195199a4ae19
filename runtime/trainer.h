// The training loop of one device: each step feeds the data source's batch, the learning
// rate and the step number into the executor, runs it, and reports loss and timing.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "runtime/data.h"
#include "runtime/executor.h"
#include "runtime/replan.h"

namespace spmd::runtime {

struct StepReport {
  int64_t step = 0;          // from 1
  double loss = 0;
  // Wall time of the step, feeding included; runtime::Job's also holds the ranks' agreement
  // that its values are finite, which the next step waits for.
  double step_time_s = 0;
  double items_per_s = 0;    // tokens or samples per second
  size_t peak_bytes = 0;     // planned peak memory of the step
  std::string checkpoint;    // the checkpoint written after this step, if any
  bool skipped = false;      // the loss was not finite: the step's updates were undone
  // Set by runtime::Job: the cost model's time of one step of the job's plan
  // (partitioner/simulator.h), and, on a step whose launches were timed, the measured part
  // of the step that its kernels did not cover (runtime/exposed_comm.h).
  std::optional<double> predicted_step_time_s;
  std::optional<double> exposed_comm_s;
  // Set by runtime::Job when it re-plans (replan.h): the decisions made after this step.
  std::vector<ReplanReport> replans;
};

class Trainer {
 public:
  // `lr` overrides the learning rate the graph was built with (meta "lr").
  // A per-device program runs over `world`, one rank per device of its mesh. `data` feeds
  // the inputs (null: the graph's own, make_data_source).
  Trainer(ir::Graph step_graph, kernels::Backend& backend, uint64_t seed,
          std::optional<double> lr = std::nullopt, collectives::Communicator* world = nullptr,
          const launcher::Topology* topology = nullptr, std::unique_ptr<DataSource> data = nullptr);

  StepReport step();
  // Seconds feeding a step's batch takes: the median of fills of the next 5 steps' (which
  // step() fills again), 0 for a source that is not DataSource::timeable. Part of every
  // step, outside the program the simulator plays: for mlp on 2 ranks 12-18 us of 300 us.
  double feed_seconds();
  Executor& executor() { return executor_; }
  const Executor& executor() const { return executor_; }
  const DataSource& data() const { return *data_; }
  int64_t steps_done() const { return steps_done_; }
  // Continues as if `steps` steps had run: the next batch is step `steps`'s and the
  // optimizer's step counter goes on from `steps` (a resumed checkpoint).
  void resume_at(int64_t steps) { steps_done_ = steps; }

 private:
  Executor executor_;
  std::unique_ptr<DataSource> data_;
  Feeds feeds_;
  double lr_;
  int64_t steps_done_ = 0;
};

}  // namespace spmd::runtime
