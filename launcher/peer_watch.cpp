#include "launcher/peer_watch.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/error.h"
#include "launcher/tcp.h"

namespace spmd::launcher {

namespace {

enum State : int { kUnknown = 0, kRunning = 1, kLeft = 2, kLost = 3, kStopped = 4 };

// One message on a watch connection; every frame has this size, so a reader only counts bytes.
struct Frame {
  // 'H' hello (rank, pid, host of the sender), 'S' leaving, 'L' lost (the rank named); a
  // probe: 'P' asked of rank 0 (pid: how long to wait for answers, ns), 'Q' its ping, 'A' the
  // answer, 'U' a rank that did not answer (named), 'D' the probe's end (pid: how many of
  // the receiver's asks it answers).
  char kind;
  char unused[3];
  int32_t rank;
  int64_t pid;
  char host[64];
};
static_assert(sizeof(Frame) == 80);

// Copies a host name into a 64-byte field, cut at 63 characters and always ended.
void copy_host(char (&to)[64], const char* from) {
  const size_t n = strnlen(from, sizeof to - 1);
  std::memcpy(to, from, n);
  to[n] = '\0';
}

Frame frame(char kind, int rank, int64_t pid, const char* host) {
  Frame f{};
  f.kind = kind;
  f.rank = rank;
  f.pid = pid;
  copy_host(f.host, host);
  return f;
}

// Sends a whole frame; false when the peer is gone. Async-signal-safe, and never raises SIGPIPE.
// A rank's main thread and its watch thread may both send on one socket (a probe's 'P' and
// an 'A'): 80 bytes go whole into a socket buffer with room, in one send() under the
// socket's lock, so frames do not interleave.
bool send_frame(int fd, const Frame& f) {
  size_t sent = 0;
  while (sent < sizeof f) {
    const ssize_t n = send(fd, reinterpret_cast<const char*>(&f) + sent, sizeof f - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// A connection's bytes until a frame is whole.
struct Reader {
  int fd = -1;
  int rank = -1;  // the sender's rank once its hello came
  Frame f{};
  size_t have = 0;
  // Reads what is there: 1 when a frame is whole (in `f`), 0 when not yet, -1 when the
  // connection ended.
  int read_some() {
    const ssize_t n = recv(fd, reinterpret_cast<char*>(&f) + have, sizeof f - have, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
    if (n <= 0) return -1;
    have += static_cast<size_t>(n);
    if (have < sizeof f) return 0;
    have = 0;
    return 1;
  }
};

int64_t now_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

}  // namespace

struct PeerWatch::Slot {
  std::atomic<int> state{kUnknown};
  std::atomic<int64_t> pid{0};
  std::atomic<int> fd{-1};  // rank 0's socket to this rank
  char host[64] = {};       // written before `state` leaves kUnknown, read after
};

struct PeerWatch::Thread {
  std::thread thread;
};

PeerWatch::PeerWatch(int rank, int ranks)
    : rank_(rank), ranks_(ranks), slots_(new Slot[static_cast<size_t>(ranks)]), asks_heard_(static_cast<size_t>(ranks), 0) {
  if (pipe2(wake_, O_CLOEXEC) != 0) throw Error(std::string("the peer watch's pipe: ") + std::strerror(errno));
  Slot& self = slots_[static_cast<size_t>(rank)];
  self.pid.store(getpid());
  copy_host(self.host, host_name().c_str());
  self.state.store(kRunning);
}

std::unique_ptr<PeerWatch> PeerWatch::lead(int ranks) {
  std::unique_ptr<PeerWatch> watch(new PeerWatch(0, ranks));
  watch->listen_fd_ = listen_anywhere(watch->address_.port);
  watch->address_.ipv4 = local_ipv4();
  watch->start();
  return watch;
}

std::unique_ptr<PeerWatch> PeerWatch::member(int rank, int ranks, const WatchAddress& at, double per_try_s) {
  std::unique_ptr<PeerWatch> watch(new PeerWatch(rank, ranks));
  std::string tried;
  for (uint32_t ip : at.ipv4) {
    std::string why;
    watch->to_lead_fd_ = connect_within(ip, at.port, per_try_s, why);
    if (watch->to_lead_fd_ >= 0) break;
    tried += (tried.empty() ? "" : ", ") + dotted(ip) + ":" + std::to_string(at.port) + " (" + why + ")";
  }
  if (watch->to_lead_fd_ < 0) throw Error("rank " + std::to_string(rank) + " cannot reach rank 0's peer watch at " + tried);
  const Slot& self = watch->slots_[static_cast<size_t>(rank)];
  if (!send_frame(watch->to_lead_fd_, frame('H', rank, self.pid.load(), self.host)))
    throw Error("rank " + std::to_string(rank) + " lost its connection to rank 0's peer watch at once");
  watch->start();
  return watch;
}

std::unique_ptr<PeerWatch> PeerWatch::join(const World& world) {
  std::unique_ptr<PeerWatch> watch;
  std::string failure;
  if (world.lead()) {
    try {
      watch = lead(world.size());
    } catch (const Error& e) {
      failure = e.what();
    }
  }
  WatchAddress at;
  const size_t count = watch ? watch->address_.ipv4.size() : 0;
  const uint64_t head = world.all_gather(watch ? watch->address_.port | (uint64_t{count} << 16) : 0,
                                         "rank 0's peer watch port").front();
  at.port = static_cast<uint16_t>(head & 0xffff);
  for (uint64_t i = 0; i < (head >> 16); ++i)
    at.ipv4.push_back(static_cast<uint32_t>(world.all_gather(watch ? watch->address_.ipv4[i] : 0, "rank 0's peer watch address").front()));
  if (!world.lead() && !at.ipv4.empty()) {
    try {
      watch = member(world.rank(), world.size(), at);
    } catch (const Error& e) {
      failure = e.what();
    }
  }
  if (!failure.empty()) std::fprintf(stderr, "spmd: %s: a lost rank will not be named\n", failure.c_str());
  world.all_gather(0, "every rank's peer watch");
  return watch;
}

void PeerWatch::start() {
  // The thread takes no signal: SIGTERM's handler must run where it may stop the process.
  sigset_t all, before;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &before);
  thread_.reset(new Thread{std::thread([this] { rank_ == 0 ? watch_as_lead() : watch_as_member(); })});
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

PeerWatch::~PeerWatch() {
  mark_leaving();
  if (thread_) {
    (void)!write(wake_[1], "x", 1);
    thread_->thread.join();
  }
  for (size_t r = 0; r < static_cast<size_t>(ranks_); ++r)
    if (const int fd = slots_[r].fd.exchange(-1); fd >= 0) close(fd);
  for (int fd : {listen_fd_, to_lead_fd_, wake_[0], wake_[1]})
    if (fd >= 0) close(fd);
}

int PeerWatch::heard() const {
  int n = 0;
  for (size_t r = 0; r < static_cast<size_t>(ranks_); ++r) n += slots_[r].state.load() != kUnknown;
  return n;
}

void PeerWatch::mark_leaving() {
  if (leaving_.exchange(true)) return;
  const Slot& self = slots_[static_cast<size_t>(rank_)];
  const Frame f = frame('S', rank_, self.pid.load(), self.host);
  if (rank_ != 0) {
    if (to_lead_fd_ >= 0) send_frame(to_lead_fd_, f);
    return;
  }
  for (size_t r = 1; r < static_cast<size_t>(ranks_); ++r)
    if (const int fd = slots_[r].fd.load(); fd >= 0) send_frame(fd, f);
}

size_t PeerWatch::lost(Lost* out, size_t capacity, double wait_s) const {
  for (double waited = 0;; waited += 0.005) {
    size_t found = 0;
    for (int r = 0; r < ranks_ && found < capacity; ++r) {
      const int state = slots_[static_cast<size_t>(r)].state.load();
      if (r != rank_ && (state == kLost || state == kStopped)) out[found++] = lost_entry(r);
    }
    if (found > 0 || waited >= wait_s) return found;
    const timespec step{0, 5'000'000};
    nanosleep(&step, nullptr);
  }
}

// Tells every other running rank that `rank` is lost ('L') or stopped ('U'), then marks it
// so here: known here only once told everywhere, since a handler that reads it may exit at once.
void PeerWatch::relay(char kind, int rank, int state) {
  Slot& s = slots_[static_cast<size_t>(rank)];
  const Frame f = frame(kind, rank, s.pid.load(), s.host);
  for (size_t r = 1; r < static_cast<size_t>(ranks_); ++r) {
    if (static_cast<int>(r) == rank || slots_[r].state.load() != kRunning) continue;
    if (const int fd = slots_[r].fd.load(); fd >= 0) send_frame(fd, f);
  }
  s.state.store(state);
}

// A rank that says it is leaving has left, unless it was found stopped or lost before: mpirun
// wakes a stopped rank (SIGCONT) to end it, and its signal handler then says it is leaving
// (a survivor that read that had named no rank when the same order ended it).
void PeerWatch::leaves(Slot& s) {
  int running = kRunning;
  s.state.compare_exchange_strong(running, kLeft);
}

// Async-signal-safe: atomic loads, memcpy, strncmp.
PeerWatch::Lost PeerWatch::lost_entry(int rank) const {
  const Slot& s = slots_[static_cast<size_t>(rank)];
  Lost l{};
  l.rank = rank;
  l.pid = s.pid.load();
  std::memcpy(l.host, s.host, sizeof l.host);
  l.this_host = std::strncmp(s.host, slots_[static_cast<size_t>(rank_)].host, sizeof s.host) == 0;
  l.stopped = s.state.load() == kStopped;
  return l;
}

// Rank 0's thread: pings every running rank, unless a probe is under way already.
void PeerWatch::start_probe() {
  if (probe_end_ns_ != 0) return;
  covered_ = asks_heard_;
  covered_[0] = asks_.load();
  answered_.assign(static_cast<size_t>(ranks_), 1);
  const Slot& self = slots_[0];
  const Frame ping = frame('Q', 0, self.pid.load(), self.host);
  for (size_t r = 1; r < static_cast<size_t>(ranks_); ++r) {
    const int fd = slots_[r].fd.load();
    if (slots_[r].state.load() != kRunning || fd < 0) continue;
    answered_[r] = 0;
    send_frame(fd, ping);
  }
  probe_end_ns_ = now_ns() + probe_wait_ns_.load();
}

// Rank 0's thread: once the probe's time is up, names the ranks that did not answer to
// every rank and ends the probe, telling each rank how many of its asks it answers; asks
// heard while it was under way start the next.
void PeerWatch::end_probe_if_due() {
  if (probe_end_ns_ == 0 || now_ns() < probe_end_ns_) return;
  for (int r = 1; r < ranks_; ++r) {
    if (!answered_[static_cast<size_t>(r)] && slots_[static_cast<size_t>(r)].state.load() == kRunning) relay('U', r, kStopped);
  }
  const Slot& self = slots_[0];
  for (size_t r = 1; r < static_cast<size_t>(ranks_); ++r) {
    const int64_t asks = static_cast<int64_t>(covered_[r]);
    if (const int fd = slots_[r].fd.load(); fd >= 0 && slots_[r].state.load() == kRunning) send_frame(fd, frame('D', 0, asks, self.host));
  }
  probe_end_ns_ = 0;
  answered_asks_.store(covered_[0]);
  bool asked_since = asks_.load() > covered_[0];
  for (size_t r = 1; r < covered_.size(); ++r) asked_since = asked_since || asks_heard_[r] > covered_[r];
  if (asked_since) start_probe();
}

std::vector<PeerWatch::Lost> PeerWatch::unresponsive(double wait_s) {
  const uint64_t ask = asks_.fetch_add(1) + 1;
  const auto wait_ns = static_cast<int64_t>(wait_s * 1e9);
  if (rank_ == 0) {
    probe_wait_ns_.store(wait_ns);
    if (write(wake_[1], "p", 1) != 1) return {};
  } else {
    const Slot& self = slots_[static_cast<size_t>(rank_)];
    if (to_lead_fd_ >= 0) send_frame(to_lead_fd_, frame('P', rank_, wait_ns, self.host));
  }
  // Rank 0's result comes after its wait (two, where a probe was under way); a rank 0 that
  // sends none in a second more is silent.
  const int64_t give_up = now_ns() + 2 * wait_ns + 1'000'000'000;
  while (answered_asks_.load() < ask && now_ns() < give_up) {
    const timespec step{0, 5'000'000};
    nanosleep(&step, nullptr);
  }
  Slot& lead = slots_[0];
  int running = kRunning;
  if (rank_ != 0 && answered_asks_.load() < ask) lead.state.compare_exchange_strong(running, kStopped);
  std::vector<Lost> out;
  for (int r = 0; r < ranks_; ++r) {
    if (r != rank_ && slots_[static_cast<size_t>(r)].state.load() == kStopped) out.push_back(lost_entry(r));
  }
  return out;
}

void PeerWatch::watch_as_lead() {
  std::vector<Reader> readers;
  std::vector<pollfd> polled;
  const Slot& self = slots_[0];
  const Frame hello = frame('H', 0, self.pid.load(), self.host);
  int joined = 0;  // ranks whose hello came
  for (;;) {
    polled.assign({{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}});
    for (const Reader& r : readers) polled.push_back({r.fd, POLLIN, 0});
    const int timeout_ms = probe_end_ns_ == 0 ? -1 : static_cast<int>(std::max<int64_t>(0, probe_end_ns_ - now_ns()) / 1'000'000 + 1);
    if (poll(polled.data(), polled.size(), timeout_ms) < 0 && errno != EINTR) break;
    if (polled[0].revents) {  // 'p': this rank asks for a probe; anything else: stop
      char why = 'x';
      if (read(wake_[0], &why, 1) != 1 || why != 'p') break;
      start_probe();
    }
    if (polled[1].revents & POLLIN) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        readers.push_back({fd});
      } else if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
        // Out of descriptors or memory: the socket would stay readable and poll() spin.
        std::fprintf(stderr, "spmd: rank 0's peer watch stops accepting (%s): later ranks' losses go unnamed\n",
                     std::strerror(errno));
        close(listen_fd_);
        listen_fd_ = -1;  // poll() skips a negative descriptor
      }
    }
    for (size_t i = readers.size(); i-- > 0;) {
      if (!polled[i + 2].revents) continue;
      Reader& r = readers[i];
      const int got = r.read_some();
      if (got == 1 && r.f.kind == 'H' && r.f.rank > 0 && r.f.rank < ranks_) {
        Slot& s = slots_[static_cast<size_t>(r.f.rank)];
        r.rank = r.f.rank;
        s.pid.store(r.f.pid);
        std::memcpy(s.host, r.f.host, sizeof s.host - 1);
        s.fd.store(r.fd);
        joined += s.state.exchange(kRunning) == kUnknown;
        send_frame(r.fd, hello);
        if (joined == ranks_ - 1 && listen_fd_ >= 0) {  // every rank is in: nothing more to accept
          close(listen_fd_);
          listen_fd_ = -1;
        }
        if (leaving_.load()) send_frame(r.fd, frame('S', 0, self.pid.load(), self.host));
      } else if (got == 1 && r.f.kind == 'S' && r.rank > 0) {
        leaves(slots_[static_cast<size_t>(r.rank)]);
      } else if (got == 1 && r.f.kind == 'P' && r.rank > 0) {
        probe_wait_ns_.store(std::clamp<int64_t>(r.f.pid, 0, 60'000'000'000));  // a probe under way keeps its end
        ++asks_heard_[static_cast<size_t>(r.rank)];
        start_probe();
      } else if (got == 1 && r.f.kind == 'A' && r.rank > 0 && static_cast<size_t>(r.rank) < answered_.size()) {
        answered_[static_cast<size_t>(r.rank)] = 1;
      }
      if (got >= 0) continue;
      if (r.rank > 0) {
        Slot& s = slots_[static_cast<size_t>(r.rank)];
        if (s.state.load() == kRunning) relay('L', r.rank, kLost);
        s.fd.store(-1);
      }
      close(r.fd);
      readers.erase(readers.begin() + static_cast<std::ptrdiff_t>(i));
    }
    end_probe_if_due();
  }
  for (const Reader& r : readers)
    if (r.rank <= 0) close(r.fd);  // the others are their slot's, closed with the watch
}

void PeerWatch::watch_as_member() {
  Reader r{to_lead_fd_};
  Slot& lead = slots_[0];
  for (;;) {
    pollfd polled[2] = {{wake_[0], POLLIN, 0}, {to_lead_fd_, POLLIN, 0}};
    if (poll(polled, 2, -1) < 0 && errno != EINTR) return;
    if (polled[0].revents) return;
    if (!polled[1].revents) continue;
    const int got = r.read_some();
    if (got < 0) {
      // The connection to rank 0 ended: rank 0 was lost unless it said it was leaving.
      if (lead.state.load() == kRunning) lead.state.store(kLost);
      return;
    }
    if (got == 0) continue;
    if (r.f.rank < 0 || r.f.rank >= ranks_) continue;
    Slot& s = slots_[static_cast<size_t>(r.f.rank)];
    if (r.f.kind == 'H' || r.f.kind == 'L' || r.f.kind == 'U') {
      s.pid.store(r.f.pid);
      std::memcpy(s.host, r.f.host, sizeof s.host - 1);
      s.state.store(r.f.kind == 'H' ? kRunning : r.f.kind == 'L' ? kLost : kStopped);
    } else if (r.f.kind == 'S' && r.f.rank == 0) {
      leaves(lead);
    } else if (r.f.kind == 'Q') {
      const Slot& self = slots_[static_cast<size_t>(rank_)];
      send_frame(to_lead_fd_, frame('A', rank_, self.pid.load(), self.host));
    } else if (r.f.kind == 'D') {
      answered_asks_.store(static_cast<uint64_t>(r.f.pid));
    }
  }
}

std::string describe(const PeerWatch::Lost& rank) {
  return "rank " + std::to_string(rank.rank) + " (pid " + std::to_string(rank.pid) + ", on " +
         (rank.this_host ? std::string("this host") : "host " + std::string(rank.host)) + ")";
}

}  // namespace spmd::launcher
