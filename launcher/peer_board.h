// Which rank of this host was lost. When a rank dies, Open MPI's mpirun stops every other
// rank (SIGTERM, then SIGKILL) before any collective could notice, so a survivor learns
// nothing from MPI. A PeerBoard is a page of memory shared by the ranks of one host (POSIX
// shared memory, unlinked as soon as all have mapped it, so nothing is left behind), where
// each rank posts its process id and whether it is running, stopping or done. A survivor
// stopped by a signal marks itself stopping first, then reads the board: a peer whose
// process is gone while it was still marked running was lost, not stopped. Ranks of other
// hosts are not on this host's board: a loss there is not seen.
#pragma once

#include <cstddef>
#include <cstdint>

#include "launcher/world.h"

namespace spmd::launcher {

class PeerBoard {
 public:
  // A rank lost on this host: its world rank and its process id.
  struct Lost {
    int rank;
    int64_t pid;
  };

  // Collective over `world`: rank 0 names the board (two of the World's agreements, within
  // its deadline), every rank maps it and posts itself as running. Throws spmd::Error when
  // the shared memory cannot be made, spmd::JobFailure when a rank does not arrive. Cost:
  // two agreements, a page per 256 ranks.
  explicit PeerBoard(const World& world);
  ~PeerBoard();
  PeerBoard(const PeerBoard&) = delete;
  PeerBoard& operator=(const PeerBoard&) = delete;

  // This rank is stopping (from a signal handler) or done (training ended normally): from
  // then on its exit is not a loss. Async-signal-safe: one atomic store.
  void mark_stopping();
  void mark_done();
  // The peers of this host whose process is gone (or a zombie) while marked running, up to
  // `capacity` of them, into `out`; returns how many. Async-signal-safe: kill(pid, 0) and a
  // read of /proc/<pid>/stat per peer of this host.
  size_t lost(Lost* out, size_t capacity) const;

 private:
  struct Slot;
  Slot* slots_ = nullptr;
  size_t bytes_ = 0;
  int rank_ = 0, size_ = 0;
};

}  // namespace spmd::launcher
