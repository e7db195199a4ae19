// The MPI backend's node-shared memory: a pool of MPI shared-memory windows
// (node_windows.h), where a rank's peers on its node load and store its buffers directly.
#include <exception>

#include "collectives/mpi/mpi_call.h"
#include "collectives/mpi/mpi_communicator.h"
#include "collectives/mpi/mpi_run_native.h"
#include "collectives/mpi/node_flags.h"
#include "collectives/mpi/node_windows.h"
#include "common/error.h"
#include "launcher/watchdog.h"

namespace spmd::collectives {

void MpiCommunicator::split_node() {
  if (node_ != MPI_COMM_NULL) return;
  // As split: a barrier with the deadline first, then the split under a watchdog.
  MPI_Request barrier = MPI_REQUEST_NULL;
  complete_in_time(MPI_Ibarrier(comm_, &barrier), barrier, "node-shared memory: the ranks meeting to split by node");
  const launcher::Watchdog watchdog("MPI_Comm_split_type (" + where() + ")", timeout());
  check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_), "MPI_Comm_split_type");
}

mpi::NodeFlags* MpiCommunicator::node_flags() {
  std::lock_guard<std::mutex> lock(shared_mutex_);
  if (!flags_checked_) {
    flags_checked_ = true;
    split_node();
    int on_node = 0;
    MPI_Comm_size(node_, &on_node);
    if (on_node == size_) flags_ = std::make_unique<mpi::NodeFlags>(node_, timeout());
  }
  return flags_.get();
}

CommBuffer MpiCommunicator::allocate_node_shared(std::size_t n) {
  std::lock_guard<std::mutex> lock(shared_mutex_);
  split_node();
  // Every rank asks for the group's largest request, so that the pool's windows, and which
  // are lent, are the same on every rank: its choices (and the windows it frees, a
  // collective call) then are too.
  uint64_t largest = n;
  run_native(
      "MPI_Allreduce", [&] { return MPI_Allreduce(MPI_IN_PLACE, &largest, 1, MPI_UINT64_T, MPI_MAX, comm_); },
      [] { return std::string("MPI_Iallreduce (node-shared memory)"); },
      [&](MPI_Request* r) { return MPI_Iallreduce(MPI_IN_PLACE, &largest, 1, MPI_UINT64_T, MPI_MAX, comm_, r); });
  SharedSpare* fits = nullptr;  // the smallest spare that holds it
  for (SharedSpare& s : shared_) {
    if (!s.lent && s.floats >= largest && (!fits || s.floats < fits->floats)) fits = &s;
  }
  if (!fits) {
    // A new window; the spares too small for this request go, so that a sweep of growing
    // sizes keeps one set of buffers, not one per size.
    for (const SharedSpare& s : shared_) {
      if (!s.lent && s.floats < largest) mpi::free_node_window(s.window, timeout());
    }
    std::erase_if(shared_, [&](const SharedSpare& s) { return !s.lent && s.floats < largest; });
    const mpi::NewWindow w = mpi::create_node_window(node_, largest, timeout());
    shared_.push_back({w.id, w.base, largest, false});
    fits = &shared_.back();
  }
  fits->lent = true;
  return CommBuffer(fits->data, {[](void* self, float* p) { static_cast<MpiCommunicator*>(self)->give_back_shared(p); }, this});
}

void MpiCommunicator::give_back_shared(float* p) {
  std::lock_guard<std::mutex> lock(shared_mutex_);
  for (SharedSpare& s : shared_) {
    if (s.data == p) s.lent = false;
  }
}

// Collective: every member frees the windows in the order they were made. Not while an
// exception unwinds (the peers may be elsewhere: the job is failing) nor after MPI ends.
void MpiCommunicator::free_node_shared() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized || abandoned_ || std::uncaught_exceptions() > 0) return;
  for (const SharedSpare& s : shared_) mpi::free_node_window(s.window, timeout());
  shared_.clear();
  if (flags_) mpi::free_node_window(flags_->window(), timeout());
  flags_.reset();
  if (node_ != MPI_COMM_NULL) MPI_Comm_free(&node_);
}

std::vector<float*> MpiCommunicator::peer_addresses(std::span<const std::span<const float>> spans) {
  const std::size_t m = spans.size();
  std::vector<mpi::WindowPlace> mine;
  mine.reserve(m);
  for (std::span<const float> s : spans) mine.push_back(mpi::place_of(s.data(), s.size()));
  std::vector<mpi::WindowPlace> all;
  if (mpi::NodeFlags* flags = node_flags(); flags && m <= mpi::NodeFlags::kMaxPlaces) {
    all = flags->exchange(mine, timeout());
  } else {
    all = gather_places(mine);
  }
  std::vector<float*> at(all.size(), nullptr);
  for (std::size_t k = 0; k < at.size(); ++k) {
    if (all[k].window == mpi::kEmptyBuffer) continue;
    if (all[k].window == 0) return {};
    at[k] = mpi::address_of(all[k]);
    if (!at[k]) return {};
  }
  return at;
}

// Every rank's places by MPI_Allgather (3 int64 a place), then a memory fence on every
// window: where the group spans nodes, or has more places than the flags hold.
std::vector<mpi::WindowPlace> MpiCommunicator::gather_places(std::span<const mpi::WindowPlace> mine) const {
  static_assert(sizeof(mpi::WindowPlace) == 3 * sizeof(int64_t), "a place is sent as 3 int64");
  const int count = mpi_count(3 * mine.size(), "MPI_Allgather");
  std::vector<mpi::WindowPlace> all(mine.size() * static_cast<std::size_t>(size_));
  run_native(
      "MPI_Allgather",
      [&] { return MPI_Allgather(mine.data(), count, MPI_INT64_T, all.data(), count, MPI_INT64_T, comm_); },
      [] { return std::string("MPI_Iallgather (where the buffers lie)"); },
      [&](MPI_Request* r) {
        return MPI_Iallgather(mine.data(), count, MPI_INT64_T, all.data(), count, MPI_INT64_T, comm_, r);
      });
  mpi::sync_node_windows();  // the peers' stores before they came, seen here
  return all;
}

std::span<float> MpiCommunicator::staging() {
  mpi::NodeFlags* flags = node_flags();
  return flags ? flags->staging(timeout()) : std::span<float>();
}

std::vector<const float*> MpiCommunicator::arrive_staged(int from) {
  mpi::NodeFlags* flags = node_flags();
  if (!flags) throw Error("arrive_staged: the ranks of this group do not share one node (" + where() + ")");
  if (from != kEveryRank) check_peer(from, "arrive_staged from");
  return flags->arrive_staged(from, timeout());
}

void MpiCommunicator::barrier() {
  if (mpi::NodeFlags* flags = node_flags()) return flags->barrier(timeout());
  mpi::sync_node_windows();
  run_native(
      "MPI_Barrier", [&] { return MPI_Barrier(comm_); }, [] { return std::string("MPI_Ibarrier"); },
      [&](MPI_Request* r) { return MPI_Ibarrier(comm_, r); });
  mpi::sync_node_windows();
}

}  // namespace spmd::collectives
