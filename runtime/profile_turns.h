// How MPI's own collectives fare in a step where the job's ranks take turns on their PUs
// (partitioner::ranks_take_turns), the part of `spmd profile` (profile_run.h) that decides
// which of them a job keeps (partitioner::native_kept_in_turns). The profile's tables time
// collectives with every rank lined up and running; in a step the ranks reach a collective
// one after another, some not running, and an algorithm's rounds wait for them. MPI's
// nonblocking collectives (Open MPI's libnbc) lost there at some primitives and not at
// others: on 4 ranks over 2 cores, MPI's all-reduce and reduce-scatter took 1.1-1.7x ours at
// every size from 16 KiB to 4 MiB, its broadcast 0.4-1.0x.
#pragma once

#include <string>
#include <vector>

#include "collectives/communicator.h"
#include "collectives/timing.h"
#include "kernels/backend.h"
#include "partitioner/profile.h"

namespace spmd::runtime {

// For each primitive: rounds of a stretch of compute as a step's (20 matmuls of 64^3 on
// `backend`) then the collective, MPI's own and each of ours interleaved, on buffers of
// 16 KiB to 4 MiB, by fours (those up to `max_bytes`, else the 16 KiB one); each one's time
// beyond the matmul rounds alone. Sets, in `p.native_in_turns`, by primitive name, MPI's
// own time over the fastest of ours at each size (a ratio per size: MPI's broadcast won at
// 4 MiB and tied at 16 KiB, its all-gather lost at 16 KiB and tied from 64 KiB), rank 0's
// figures on every rank; in `p.native_in_turns_bytes` the largest size; and its lines in
// `table`. Collective over `comm` (2 ranks or more); about 5 s on 4 ranks over 2 cores.
// The hand-off to the communication thread as a step meets it where the ranks take turns
// on their PUs, for the cost model to charge per collective overlapped: rounds of a 64^3
// matmul then a 4 KiB all-reduce handed to a CommStream and waited for, against the same
// run inline, on every rank at once; the median difference per round, rank 0's on every
// rank. A hand-off timed alone (a few us) leaves out that the woken thread waits for a
// turn on a PU the other ranks' threads want too. Collective over `comm` (2 ranks or more,
// callable from another thread); about 10 ms.
double measure_handoff_in_turns(collectives::Communicator& comm, kernels::Backend& backend);

// Each of `runs`' seconds in a step as measure_native_in_turns times them: rounds of a
// stretch of compute as a step's (20 matmuls of 64^3 on `backend`) then the collective,
// less the rounds of the stretch alone; the median of 5 repeats, the runs interleaved.
// What bench_collectives times the choice with where the ranks take turns. Collective over
// `comm`; on 4 ranks over 2 cores about 20 ms for the stretches alone, and for each run as
// much again and a hundred times its collective.
std::vector<double> seconds_in_step(collectives::Communicator& comm, kernels::Backend& backend,
                                    const std::vector<collectives::CollectiveRun>& runs);

void measure_native_in_turns(collectives::Communicator& comm, kernels::Backend& backend, double max_bytes,
                             partitioner::Profile& p, std::string& table);

}  // namespace spmd::runtime
