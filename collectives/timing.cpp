#include "collectives/timing.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "common/error.h"
#include "common/host_memory.h"
#include "common/stats.h"

namespace spmd::collectives {
namespace {

// A timed collective's buffer (TimedMemory says where). Private ones on huge pages at any
// size, as the runtime's values were: on small pages the copies of 128 KiB to 4 MiB took
// twice as long (common/host_memory.h).
struct HostSpan {
  HostSpan(Communicator& comm, size_t n, TimedMemory memory = TimedMemory::node_shared)
      : floats(memory == TimedMemory::node_shared ? comm.allocate_node_shared(n) : private_comm_buffer(n, HugePages::always)),
        span(floats.get(), n) {}
  CommBuffer floats;
  std::span<float> span;
};

}  // namespace

double time_once(Communicator& comm, const CollectiveRun& c) {
  using Clock = std::chrono::steady_clock;
  c.prepare();
  float together = 0;
  comm.native_all_reduce({&together, 1}, ReduceOp::sum);
  const auto start = Clock::now();
  c.run();
  float elapsed = static_cast<float>(std::chrono::duration<double>(Clock::now() - start).count());
  comm.native_all_reduce({&elapsed, 1}, ReduceOp::max);
  return elapsed;
}

double time_collective(Communicator& comm, const CollectiveRun& c, int repetitions) {
  return time_interleaved(comm, {c}, repetitions).front();
}

CollectiveRun collective_run(Communicator& comm, Primitive primitive, Algorithm algo, double bytes, TimedMemory memory) {
  size_t n = static_cast<size_t>(bytes / sizeof(float));
  const size_t ranks = static_cast<size_t>(comm.size());
  if (primitive == Primitive::all_to_all && n >= ranks) n -= n % ranks;  // a whole block per rank
  const size_t block = static_cast<size_t>(partition(static_cast<int64_t>(n), comm.size()).count(comm.rank()));
  // Only the buffers the primitive uses: the input (whole, or this rank's block for an
  // all-gather) and, where the result does not overwrite it, the output.
  const bool separate_out = primitive == Primitive::reduce_scatter || primitive == Primitive::all_gather ||
                            primitive == Primitive::all_to_all;
  auto in = std::make_shared<HostSpan>(comm, primitive == Primitive::all_gather ? block : n, memory);
  auto out = std::make_shared<HostSpan>(comm, !separate_out ? 0 : primitive == Primitive::reduce_scatter ? block : n, memory);
  const float value = 1.0f + static_cast<float>(comm.rank());
  CollectiveRun c;
  c.prepare = [in, value] { std::ranges::fill(in->span, value); };
  Communicator* g = &comm;
  switch (primitive) {
    case Primitive::all_reduce: c.run = [=] { all_reduce(*g, in->span, ReduceOp::sum, algo); }; break;
    case Primitive::reduce_scatter: c.run = [=] { reduce_scatter(*g, in->span, out->span, ReduceOp::sum, algo); }; break;
    case Primitive::all_gather: c.run = [=] { all_gather(*g, in->span, out->span, algo); }; break;
    case Primitive::broadcast: c.run = [=] { broadcast(*g, in->span, 0, algo); }; break;
    case Primitive::reduce: c.run = [=] { reduce(*g, in->span, 0, ReduceOp::sum, algo); }; break;
    case Primitive::all_to_all: c.run = [=] { all_to_all(*g, in->span, out->span, algo); }; break;
  }
  return c;
}

std::vector<CollectiveRun> collective_runs(Communicator& comm, Primitive primitive,
                                           const std::vector<Algorithm>& algorithms, double bytes) {
  std::vector<CollectiveRun> runs;
  for (Algorithm a : algorithms) runs.push_back(collective_run(comm, primitive, a, bytes));
  return runs;
}

std::vector<double> time_interleaved(Communicator& comm, const std::vector<CollectiveRun>& runs, int repetitions,
                                     std::vector<double>* spreads) {
  double warmed = 0;  // a run's, on average
  for (int w = 0; w < kWarmUpRuns && warmed < kWarmUpSeconds; ++w) {
    for (const CollectiveRun& r : runs) warmed += time_once(comm, r) / static_cast<double>(runs.size());
  }
  std::vector<std::vector<double>> samples(runs.size());
  for (int rep = 0; rep < repetitions; ++rep) {
    for (size_t j = 0; j < runs.size(); ++j) {
      const size_t k = (j + static_cast<size_t>(rep)) % runs.size();
      samples[k].push_back(time_once(comm, runs[k]));
    }
  }
  std::vector<double> medians;
  for (const std::vector<double>& s : samples) medians.push_back(median(s));
  if (spreads) {
    spreads->clear();
    for (const std::vector<double>& s : samples) spreads->push_back(relative_spread(s));
  }
  return medians;
}

CollectiveRun schedule_run(ScheduleRunner& runner, const Schedule& schedule, double bytes) {
  if (schedule.collective == Primitive::all_reduce) {
    auto data = std::make_shared<HostSpan>(runner.group(), static_cast<size_t>(bytes / sizeof(float)));
    const float value = 1.0f + static_cast<float>(runner.group().rank());
    return {[data, value] { std::ranges::fill(data->span, value); },
            [&runner, &schedule, data] { runner.all_reduce(schedule, data->span, ReduceOp::sum); }};
  }
  if (schedule.steps.size() != 1) {
    throw Error("schedule '" + schedule.name + "' of " + to_string(schedule.collective) + " has " +
                std::to_string(schedule.steps.size()) + " steps: only all-reduce schedules run step by step");
  }
  return collective_run(runner.group(), schedule.collective, schedule.steps.front().algorithm, bytes);
}

}  // namespace spmd::collectives
