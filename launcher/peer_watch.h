// Which rank was lost, on any host. When a rank dies, Open MPI's mpirun stops every other
// rank (SIGTERM, then SIGKILL a second later) before any collective could notice, so a
// survivor learns nothing from MPI. A PeerWatch keeps a TCP connection from every rank to
// rank 0 (a star: rank 0 holds ranks - 1 sockets, and stops listening once every rank is
// in; each other rank holds one), watched by a
// thread that sleeps in poll(). A rank that leaves on its own says so first; the kernel
// closes a killed process's sockets at once, so a connection that ends unannounced is a
// lost rank. Rank 0 tells the others which rank it lost; the others see rank 0's own loss
// directly. A survivor's signal handler marks itself leaving, then reads what its watch has
// learnt, waiting a moment for the news (it travels as fast as mpirun's order to stop).
//
// Lifecycle: rank 0 listens (`lead`), the others connect (`member`) to the addresses it
// published; `join(World)` does both, exchanging the addresses by the World's agreements. Connections carry fixed 80-byte frames: hello (rank, pid, host), leaving,
// and lost (relayed by rank 0).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "launcher/world.h"

namespace spmd::launcher {

// Where rank 0's watch listens: its port and its IPv4 addresses (host byte order), the
// host's own interfaces first and loopback last.
struct WatchAddress {
  uint16_t port = 0;
  std::vector<uint32_t> ipv4;
};

class PeerWatch {
 public:
  // A rank lost: its rank, its process id, its host's name, and whether that is this host.
  struct Lost {
    int rank;
    int64_t pid;
    char host[64];
    bool this_host;
  };

  // Collective over `world` (two or more ranks): rank 0 listens, publishes its address by
  // the World's agreements, every other rank connects. A rank that cannot reach rank 0 (or
  // rank 0 that cannot listen) says so on stderr and gets null: its watch names no loss,
  // the job runs on. Throws spmd::JobFailure when a rank does not arrive. Cost: 2 +
  // addresses agreements, a socket per rank at rank 0, one thread per rank.
  static std::unique_ptr<PeerWatch> join(const World& world);
  // The two halves, for a job whose addresses travel another way (and for tests): rank 0
  // of `ranks` listens on every interface (throws spmd::Error when it cannot)...
  static std::unique_ptr<PeerWatch> lead(int ranks);
  // ... and rank `rank` connects to `at`, trying each address for at most `per_try_s`.
  // Throws spmd::Error naming the addresses tried when none answers.
  static std::unique_ptr<PeerWatch> member(int rank, int ranks, const WatchAddress& at, double per_try_s = 2.0);
  // Says this rank is leaving (if it has not yet) and stops the thread.
  ~PeerWatch();
  PeerWatch(const PeerWatch&) = delete;
  PeerWatch& operator=(const PeerWatch&) = delete;

  // Rank 0's address (on rank 0; empty elsewhere).
  const WatchAddress& address() const { return address_; }
  // How many ranks this watch has heard from, itself included (rank 0: every rank that
  // connected; others: itself and rank 0).
  int heard() const;
  // This rank is leaving (a signal stops it, or training ended): from then on its exit is
  // not a loss. Async-signal-safe: an atomic exchange and send() per connection.
  void mark_leaving();
  // The ranks known lost, up to `capacity` of them, into `out`; returns how many. When none
  // is known yet, waits up to `wait_s` for news. Async-signal-safe: atomic loads, nanosleep.
  size_t lost(Lost* out, size_t capacity, double wait_s = 0) const;

 private:
  struct Slot;
  PeerWatch(int rank, int ranks);
  void start();
  void watch_as_lead();
  void watch_as_member();
  void relay_lost(int rank);

  int rank_ = 0, ranks_ = 0;
  WatchAddress address_;
  std::unique_ptr<Slot[]> slots_;  // per rank: state, pid, host, socket (rank 0's view)
  int listen_fd_ = -1, to_lead_fd_ = -1;
  int wake_[2] = {-1, -1};  // a pipe that ends the thread's poll
  std::atomic<bool> leaving_{false};
  struct Thread;
  std::unique_ptr<Thread> thread_;
};

}  // namespace spmd::launcher
