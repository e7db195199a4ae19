// What a rank says when mpirun ends it: Open MPI stops every surviving rank (SIGTERM, then
// SIGKILL) as soon as one is lost, before any collective could notice the loss, so the
// survivors say it themselves: which rank they are, at which step, and which rank was lost,
// on which host (launcher/peer_watch.h).
#pragma once

#include <cstdint>

#include "launcher/peer_watch.h"

namespace spmd::tools {

// From now on, SIGTERM makes this rank print "spmd: rank R stopped by mpirun at step N:
// rank L (pid P, on this host) was lost" ("on host H" for another host; "stopped
// answering" for a rank a probe found silent; "while setting up" before the first step;
// when `watch` learns of nothing within 0.3 s, "another rank was lost or the job was cancelled") to
// stderr and exit with the job-failure code (3). Async-signal-safe: atomic stores, the
// watch's sends and reads, write() and _exit(). `watch` may be null; it must outlive the
// handler's use, or be let go by stop_watching_peers().
void say_why_when_stopped(int rank, launcher::PeerWatch* watch);
// This rank leaves training on its own (done, or failing with its own message): its
// watch says so, so its exit is not taken for a loss, and the watch is let go.
void stop_watching_peers();
// The step this rank is at, for that message (cheap: one atomic store).
void note_step(int64_t step);

}  // namespace spmd::tools
