// A job's trace as it runs: on each rank, the span of every traced step and the executor's
// timeline of it (runtime/executor.h), turned into trace slices (runtime/trace.h) named and
// annotated from the program the executor runs; and the simulator's step laid beside them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "ir/graph.h"
#include "partitioner/lower.h"
#include "runtime/executor.h"
#include "runtime/predicted_timeline.h"
#include "runtime/trace.h"

namespace spmd::runtime {

class TraceRecorder {
 public:
  using Clock = std::chrono::steady_clock;

  // `graph`: the program the executor runs, which must outlive the recorder; `collectives`:
  // the lowering's records of its redistributions (none when it runs unpartitioned);
  // `origin`: the time every rank took together, from which all times are counted.
  // Cost: one pass over the records.
  TraceRecorder(const ir::Graph& graph, const std::vector<partitioner::CollectiveRecord>& collectives,
                Clock::time_point origin);

  Clock::time_point origin() const { return origin_; }
  // Records step `step` (from 1), which ran from `start` to `end` and whose launches the
  // executor timed as `launches`. Memory: the launches are kept until the trace is written.
  void add_step(int64_t step, double loss, Clock::time_point start, Clock::time_point end,
                std::vector<LaunchTime> launches);
  int64_t steps() const { return static_cast<int64_t>(steps_.size()); }

  // This rank's timeline ("rank N", pid = rank): each step as a slice "step K" on the
  // compute thread around its kernels, each redistribution on the communication thread.
  // Every slice of an op is named by the op (a redistribution by the collectives it runs,
  // "all-reduce along data") with args op, value (the value it computes, as
  // ir::value_label writes it), bytes (what it reads and writes; for a redistribution the
  // larger of its shards, with the global value it moves and its from and to shardings),
  // flops, step, and reason where the lowering gave one. Cost: linear in the recorded
  // launches.
  TraceProcess measured(int rank) const;
  // The predicted step `step` ("predicted", pid = `pid`), laid at the first launch of every
  // recorded step so that measured and predicted start together.
  TraceProcess predicted(int pid, const std::vector<PredictedLaunch>& step) const;

 private:
  struct Label {
    std::string name;
    nlohmann::json args;
  };
  struct Step {
    int64_t step;
    double loss, start_s, end_s;
    std::vector<LaunchTime> launches;
  };
  const Label& label(ir::ValueId v) const;
  TraceSlice slice(ir::ValueId v, Stream stream, double start_s, double duration_s, int64_t step) const;
  double since_origin(Clock::time_point t) const { return std::chrono::duration<double>(t - origin_).count(); }

  const ir::Graph& graph_;
  std::vector<int> record_;  // per node: its collective's record in collectives_, or -1
  std::vector<partitioner::CollectiveRecord> collectives_;
  mutable std::vector<std::optional<Label>> labels_;  // per node, made when first needed
  Clock::time_point origin_;
  std::vector<Step> steps_;
};

}  // namespace spmd::runtime
