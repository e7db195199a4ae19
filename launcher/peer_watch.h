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
// published; `join(World)` does both, exchanging the addresses by the World's agreements.
// Connections carry fixed 80-byte frames: hello (rank, pid, host), leaving, lost (relayed by
// rank 0), and the frames of a probe.
//
// A stopped rank (SIGSTOP, a hung host) keeps its connection open: only asking finds it. A
// rank whose collective timed out calls `unresponsive()`: rank 0 pings every rank, and the
// ones whose watch thread does not answer in time are stopped; rank 0 tells every rank so,
// and their signal handlers name it as they name a lost one. Such a rank stays named as
// stopped when mpirun later wakes it (SIGCONT) to end it and it says it is leaving.
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
    bool stopped;  // it did not answer a probe (unresponsive()), rather than its connection ending
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
  // The ranks that do not answer: rank 0 pings every rank still running and waits `wait_s`
  // for the answers, then tells every rank which were silent (lost() names them too, as
  // stopped). The result is always of a probe begun after the ask: one asked while another
  // is under way starts when that ends. On another rank, a rank 0 that sends no result
  // within twice wait_s + 1 s is itself the silent one. Blocks for about wait_s (twice where
  // a probe was under way); not async-signal-safe. Probes asked for at once (every rank of
  // a timed-out collective) share one where the asks reach rank 0 before it starts; those
  // that come later share the next.
  std::vector<Lost> unresponsive(double wait_s = 0.5);

 private:
  struct Slot;
  PeerWatch(int rank, int ranks);
  void start();
  void watch_as_lead();
  void watch_as_member();
  void relay(char kind, int rank, int state);
  void start_probe();
  void end_probe_if_due();
  Lost lost_entry(int rank) const;
  static void leaves(Slot& s);  // a 'leaving' frame heard: left, unless stopped or lost

  int rank_ = 0, ranks_ = 0;
  WatchAddress address_;
  std::unique_ptr<Slot[]> slots_;  // per rank: state, pid, host, socket (rank 0's view)
  int listen_fd_ = -1, to_lead_fd_ = -1;
  int wake_[2] = {-1, -1};  // a pipe that ends the thread's poll
  std::atomic<bool> leaving_{false};
  // Probes: how many this rank asked for, and how many of those a probe that began after
  // them has answered; on rank 0 the one under way (its thread's alone): its end, who
  // answered, each rank's asks it answers (`covered_`, rank 0's own first) and each other
  // rank's asks heard.
  std::atomic<uint64_t> asks_{0}, answered_asks_{0};
  std::atomic<int64_t> probe_wait_ns_{500'000'000};
  int64_t probe_end_ns_ = 0;  // 0: none under way
  std::vector<char> answered_;
  std::vector<uint64_t> covered_, asks_heard_;
  struct Thread;
  std::unique_ptr<Thread> thread_;
};

// "rank 2 (pid 4711, on host node-b)", or "(pid 4711, on this host)".
std::string describe(const PeerWatch::Lost& rank);

}  // namespace spmd::launcher
