// What a rank says when mpirun ends it: Open MPI stops every surviving rank (SIGTERM, then
// SIGKILL) as soon as one is lost, before any collective could notice the loss, so the
// survivors say it themselves: which rank they are, at which step, and which rank was lost,
// on which host (launcher/peer_watch.h).
#pragma once

#include <cstdint>
#include <string>

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
// "spmd: job failed on rank R: <what>": how a rank says it failed (main, note_failure).
std::string failure_line(int rank, const std::string& what);
// This rank fails with its own message, `line` (one line, cut at 2 KiB): a SIGTERM from now
// on prints it, where the handler would otherwise guess, since mpirun may end this rank
// between letting its watch go and printing the message (the job's other ranks fail at the
// same deadline). Cost: one copy.
void note_failure(const std::string& line);
// The message noted above was printed: a SIGTERM from now on prints nothing more.
void failure_said();
// The step this rank is at, for that message (cheap: one atomic store).
void note_step(int64_t step);
// The step noted last; -1 while the job sets up.
int64_t noted_step();

}  // namespace spmd::tools
