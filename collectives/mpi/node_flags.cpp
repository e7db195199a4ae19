#include "collectives/mpi/node_flags.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <sstream>

#include "common/error.h"
#include "launcher/poll_until.h"

namespace spmd::collectives::mpi {

// One member's slot. The counters on lines of their own: a member stores to its own and
// only loads its peers', so a line moves only when its count changes.
struct NodeFlags::Slot {
  static constexpr std::size_t kLine = 64;
  alignas(kLine) uint64_t arrived;
  alignas(kLine) uint64_t departed;
  alignas(kLine) uint64_t read;  // the last arrival whose places or staged data it read
  alignas(kLine) WindowPlace places[2][kMaxPlaces];
  alignas(kLine) float staging[2][kStagingFloats];
};

namespace {

uint64_t load(uint64_t& counter) { return std::atomic_ref<uint64_t>(counter).load(std::memory_order_acquire); }
void store(uint64_t& counter, uint64_t value) {
  std::atomic_ref<uint64_t>(counter).store(value, std::memory_order_release);
}

}  // namespace

NodeFlags::Slot* NodeFlags::slot_at(float* base) {
  const auto at = reinterpret_cast<std::uintptr_t>(base);
  return reinterpret_cast<Slot*>((at + Slot::kLine - 1) / Slot::kLine * Slot::kLine);
}

NodeFlags::NodeFlags(MPI_Comm node, launcher::Seconds timeout) {
  static_assert(std::atomic_ref<uint64_t>::is_always_lock_free, "counters shared between processes must be lock-free");
  int size = 1;
  MPI_Comm_rank(node, &rank_);
  MPI_Comm_size(node, &size);
  const std::size_t floats = (sizeof(Slot) + Slot::kLine) / sizeof(float) + 1;
  const NewWindow w = create_node_window(node, floats, timeout);
  window_ = w.id;
  Slot* mine = slot_at(w.base);
  std::memset(static_cast<void*>(mine), 0, sizeof(Slot));
  for (int r = 0; r < size; ++r) {
    float* base = address_of({window_, r, 0});
    if (!base) throw Error("node-shared flags: rank " + std::to_string(r) + "'s slot is not reachable");
    slots_.push_back(slot_at(base));
  }
  launcher::arrive_together(node, timeout, "node-shared flags: the ranks zeroing their slots");
}

void NodeFlags::mark_read() {
  if (!unread_) return;
  store(mine().read, arrivals_);
  unread_ = false;
}

void NodeFlags::await_readers(launcher::Seconds timeout) const {
  if (arrivals_ >= 1) wait_for(&Slot::read, arrivals_ - 1, 0, slots_.size(), timeout, "read what this rank staged");
}

std::size_t NodeFlags::arrive(int from, launcher::Seconds timeout) {
  const uint64_t arrival = ++arrivals_;
  store(mine().arrived, arrival);
  const std::size_t first = from < 0 ? 0 : static_cast<std::size_t>(from);
  const std::size_t last = from < 0 ? slots_.size() : first + 1;
  wait_for(&Slot::arrived, arrival, first, last, timeout, "arrive");
  return arrival % 2;
}

std::size_t NodeFlags::next_set(launcher::Seconds timeout) {
  mark_read();
  await_readers(timeout);
  return (arrivals_ + 1) % 2;
}

std::vector<WindowPlace> NodeFlags::exchange(std::span<const WindowPlace> mine_places, launcher::Seconds timeout) {
  if (mine_places.size() > kMaxPlaces) throw Error("node-shared flags: more than " + std::to_string(kMaxPlaces) + " places");
  const std::size_t m = mine_places.size();
  std::copy(mine_places.begin(), mine_places.end(), mine().places[next_set(timeout)]);
  const std::size_t set = arrive(-1, timeout);
  std::vector<WindowPlace> all(m * slots_.size());
  for (std::size_t r = 0; r < slots_.size(); ++r) std::copy_n(slots_[r]->places[set], m, all.begin() + r * m);
  store(mine().read, arrivals_);
  return all;
}

std::span<float> NodeFlags::staging(launcher::Seconds timeout) { return mine().staging[next_set(timeout)]; }

std::vector<const float*> NodeFlags::arrive_staged(int from, launcher::Seconds timeout) {
  next_set(timeout);  // as staging(): a caller that staged nothing did not call it
  const std::size_t set = arrive(from, timeout);
  std::vector<const float*> all(slots_.size(), nullptr);
  for (std::size_t r = 0; r < slots_.size(); ++r) {
    if (from < 0 || r == static_cast<std::size_t>(from)) all[r] = slots_[r]->staging[set];
  }
  unread_ = true;
  return all;
}

void NodeFlags::barrier(launcher::Seconds timeout) {
  mark_read();
  const uint64_t departure = ++departures_;
  store(mine().departed, departure);
  wait_for(&Slot::departed, departure, 0, slots_.size(), timeout, "depart");
}

void NodeFlags::wait_for(uint64_t Slot::*counter, uint64_t count, std::size_t first, std::size_t last,
                         launcher::Seconds timeout, const char* what) const {
  std::size_t next = first;  // the members before it have come
  const bool all_came = launcher::poll_until(
      [&] {
        while (next < last && load(slots_[next]->*counter) >= count) ++next;
        return next == last;
      },
      timeout);
  if (all_came) return;
  std::ostringstream missing;
  int late = 0;
  for (std::size_t r = first; r < last; ++r) {
    if (load(slots_[r]->*counter) < count) missing << (late++ > 0 ? ", " : "") << r;
  }
  std::ostringstream message;
  message << "node-shared memory: waiting for " << (late == 1 ? "rank " : "ranks ") << missing.str() << " to " << what
          << " timed out after " << timeout.count() << " s (rank " << rank_ << " of " << slots_.size()
          << "): a rank failed, stopped, or is not in the same collective";
  throw JobFailure(message.str());
}

}  // namespace spmd::collectives::mpi
