#include "launcher/peer_board.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/error.h"

namespace spmd::launcher {

namespace {

enum State : int32_t { kAbsent = 0, kRunning = 1, kStopping = 2, kDone = 3 };

// Whether process `pid` has ended: it no longer exists, or it is a zombie its parent has
// not reaped yet. Only async-signal-safe calls; errno is left as it was.
bool gone(int64_t pid) {
  const int saved = errno;
  bool ended = kill(static_cast<pid_t>(pid), 0) == -1 && errno == ESRCH;
  if (!ended) {
    char path[48] = "/proc/";
    size_t at = std::strlen(path);
    char digits[24];
    size_t n = 0;
    for (int64_t v = pid; v > 0 && n < sizeof digits; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
    while (n > 0) path[at++] = digits[--n];
    std::memcpy(path + at, "/stat", 6);
    // "pid (comm) S ...": the state is the first field after the last ')'.
    char stat[512];
    const int fd = open(path, O_RDONLY);
    if (fd >= 0) {
      const ssize_t got = read(fd, stat, sizeof stat - 1);
      close(fd);
      if (got > 0) {
        stat[got] = '\0';
        const char* close_paren = std::strrchr(stat, ')');
        ended = close_paren && close_paren[1] == ' ' && (close_paren[2] == 'Z' || close_paren[2] == 'X');
      }
    } else {
      ended = errno == ENOENT;
    }
  }
  errno = saved;
  return ended;
}

}  // namespace

struct PeerBoard::Slot {
  std::atomic<int64_t> pid;
  std::atomic<int32_t> state;
  int32_t unused;
};
static_assert(std::atomic<int64_t>::is_always_lock_free && std::atomic<int32_t>::is_always_lock_free,
              "the board is read from signal handlers and by other processes");

PeerBoard::PeerBoard(const World& world) : rank_(world.rank()), size_(world.size()) {
  const uint64_t key = world.all_gather(world.lead() ? std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32) : 0,
                                        "the name of the ranks' shared board").front();
  char name[64];
  std::snprintf(name, sizeof name, "/spmd-board-%016llx", static_cast<unsigned long long>(key));
  bytes_ = (sizeof(Slot) * static_cast<size_t>(size_) + 4095) / 4096 * 4096;
  const int fd = shm_open(name, O_CREAT | O_RDWR, 0600);
  if (fd < 0) throw Error(std::string("shared memory ") + name + ": " + std::strerror(errno));
  void* at = MAP_FAILED;
  if (ftruncate(fd, static_cast<off_t>(bytes_)) == 0) at = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int error = errno;
  close(fd);
  // Every rank has opened it once all arrive here: the name can go, the mappings stay.
  const std::vector<uint64_t> failed = world.all_gather(at == MAP_FAILED ? 1 : 0, "the ranks' shared board, mapped");
  shm_unlink(name);
  if (at == MAP_FAILED) throw Error(std::string("shared memory ") + name + ": " + std::strerror(error));
  for (size_t r = 0; r < failed.size(); ++r) {
    if (!failed[r]) continue;
    munmap(at, bytes_);
    throw Error("rank " + std::to_string(r) + " could not map the ranks' shared board " + name);
  }
  slots_ = static_cast<Slot*>(at);
  slots_[rank_].pid.store(getpid());
  slots_[rank_].state.store(kRunning);
}

PeerBoard::~PeerBoard() {
  mark_done();
  munmap(slots_, bytes_);
}

void PeerBoard::mark_stopping() { slots_[rank_].state.store(kStopping); }

void PeerBoard::mark_done() { slots_[rank_].state.store(kDone); }

size_t PeerBoard::lost(Lost* out, size_t capacity) const {
  size_t found = 0;
  for (int r = 0; r < size_ && found < capacity; ++r) {
    const int64_t pid = slots_[r].pid.load();
    if (r == rank_ || pid <= 0 || slots_[r].state.load() != kRunning) continue;
    // The state is read again once the process is seen gone: a peer stopped by the same
    // signal marks itself stopping before it exits, maybe between the two reads.
    if (gone(pid) && slots_[r].state.load() == kRunning) out[found++] = {r, pid};
  }
  return found;
}

}  // namespace spmd::launcher
