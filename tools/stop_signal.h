// What a rank says when mpirun ends it: Open MPI stops every surviving rank (SIGTERM, then
// SIGKILL) as soon as one is lost, before any collective could notice the loss, so the
// survivors say it themselves: which rank they are, at which step, and why they stop.
#pragma once

#include <cstdint>

namespace spmd::tools {

// From now on, SIGTERM makes this rank print "spmd: rank R stopped by mpirun at step N: ..."
// to stderr and exit with the job-failure code (3). Async-signal-safe: write() and _exit().
void say_why_when_stopped(int rank);
// The step this rank is at, for that message (cheap: one atomic store).
void note_step(int64_t step);

}  // namespace spmd::tools
