// Timing collectives on the live job, the way nccl-tests and OSU's benchmarks do: every rank
// starts together, a run counts as its slowest rank's time, and the median of several runs
// after a warm-up is reported. What `spmd profile` fits its figures to and what
// `spmd collective` prints beside the cost model's prediction.
#pragma once

#include <functional>
#include <vector>

#include "collectives/communicator.h"
#include "collectives/primitives.h"
#include "collectives/run_schedule.h"
#include "collectives/schedule.h"

namespace spmd::collectives {

// One collective ready to time: `prepare` rewrites its buffers (as a fresh run finds them),
// `run` runs it.
struct CollectiveRun {
  std::function<void()> prepare;
  std::function<void()> run;
};

// Runs of a collective on fresh buffers before its timed ones. A program's buffers are
// reused step after step, and fresh ones run slower for the first runs: on 2 ranks here
// MPI's all-gather of 4 MiB took 450-520, 390-440 and 290-300 us in its first three runs
// on buffers already written, then 290 us; of 16 MiB, 2.5-2.9 ms falling to 1.2 ms over
// eight. `spmd profile`, which timed three runs after one warm-up above 1 MiB, read the
// algorithms of 4 MiB 25-75% slower than bench_collectives' eleven, and the profile's
// figures missed the bench's by more than 15% at 5-6 of its 40 chosen rows; warmed up so,
// at 1-5. Fewer where they already took kWarmUpSeconds: of 64 MiB the first run was within
// 5% of the steady ones, and six of each algorithm made a profile of 4 ranks half as long
// again.
inline constexpr int kWarmUpRuns = 6;
inline constexpr double kWarmUpSeconds = 0.025;

// Median seconds of `c.run` on the slowest rank of `comm` over `repetitions` runs after its
// warm-up runs (above), each after `c.prepare` (not timed); the ranks line up before each
// run on a one-float all-reduce (the backend's own) and agree on its slowest time with
// another, so every rank returns the same figure (and stops warming up with the others).
// Collective over `comm`.
double time_collective(Communicator& comm, const CollectiveRun& c, int repetitions = 5);

// One timed run of `c` as above (prepared, lined up, the slowest rank's seconds), for callers
// that interleave several collectives' runs so that drift in the machine's load hits all alike.
double time_once(Communicator& comm, const CollectiveRun& c);

// Median seconds of each of `runs` as above, their runs interleaved: their warm-up runs, then
// `repetitions` rounds, each round starting with another run, so that drift in the
// machine's load and the cache state one leaves for the next hit all of them alike. What
// `spmd profile` and bench_collectives time algorithms against each other with. Where
// `spreads` is given, it gets how far each one's runs spread (common/stats.h).
std::vector<double> time_interleaved(Communicator& comm, const std::vector<CollectiveRun>& runs, int repetitions,
                                     std::vector<double>* spreads = nullptr);

// Where a timed collective's buffers lie: in node-shared memory, as a program's values on
// the host do (runtime/executor.h; Communicator::allocate_node_shared), or in private
// memory on huge pages, as a program's own that calls MPI itself (the baseline of
// bench_collectives: on 2 ranks here MPI_Allreduce took 1.2-1.4x as long over node-shared
// memory's small pages).
enum class TimedMemory { node_shared, private_pages };

// `primitive` with `algo` over all of `comm` on a buffer of `bytes` (the full buffer, as
// cost.h counts it; an all-to-all's rounded down to a whole block per rank, which it needs:
// 4 KiB over 3 ranks is 1,020 floats); the buffers it uses are allocated now and kept by
// the functions. Collective over `comm` (node-shared memory is allocated by all ranks).
CollectiveRun collective_run(Communicator& comm, Primitive primitive, Algorithm algo, double bytes,
                             TimedMemory memory = TimedMemory::node_shared);

// collective_run for each of `algorithms`, in their order: what time_interleaved compares.
std::vector<CollectiveRun> collective_runs(Communicator& comm, Primitive primitive,
                                           const std::vector<Algorithm>& algorithms, double bytes);

// A synthesized schedule over `runner`'s group: an all-reduce schedule step by step, any
// other (flat, one step) as its primitive with the step's algorithm. `runner` and
// `schedule` must outlive the result.
CollectiveRun schedule_run(ScheduleRunner& runner, const Schedule& schedule, double bytes);

}  // namespace spmd::collectives
