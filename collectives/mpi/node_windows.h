// The MPI backend's node-shared memory: MPI shared-memory windows (MPI_Win_allocate_shared,
// MPI-3.1 sec. 11.2.3) over the ranks of one node, in a registry of the process, so that any
// communicator, a split one included, can tell whether a buffer lies in one and where a
// peer's buffer in one lies in this process's address space (MPI_Win_shared_query).
// Internal to collectives/mpi.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <cstdint>

#include "launcher/mpi_wait.h"

namespace spmd::collectives::mpi {

// Where a buffer lies: in window `window` (an id the same on every member, 0 for none:
// private memory), of the member `rank`, `offset` floats from that member's base.
struct WindowPlace {
  int64_t window = 0;
  int64_t rank = 0;
  int64_t offset = 0;
};
// The window id of an empty buffer: nothing to reach, anywhere.
inline constexpr int64_t kEmptyBuffer = -1;

// A new window of `floats` floats a member over `node` (ranks of one node), each member
// asking for its own size; registered, and open for load/store (MPI_Win_lock_all with
// MPI_MODE_NOCHECK, as MPI_Win_sync needs). Collective over `node`, each blocking step under
// a deadline of `timeout` that ends the process (launcher::DeadlineGuard). Returns this
// rank's base and the window's id. Cost: MPI's (an mmap of a file in /dev/shm, a few
// messages); pages fault in on first touch.
struct NewWindow {
  float* base = nullptr;
  int64_t id = 0;
};
NewWindow create_node_window(MPI_Comm node, std::size_t floats, launcher::Seconds timeout);

// Frees window `id` (MPI_Win_unlock_all, MPI_Win_free): collective over its members, under
// the deadline. Windows must be freed in the same order on every member.
void free_node_window(int64_t id, launcher::Seconds timeout);

// Where [p, p + n) lies, window 0 if not inside one window of this process, kEmptyBuffer
// for n = 0. O(windows).
WindowPlace place_of(const float* p, std::size_t n);

// The address in this process of `place`, nullptr where this process is not a member of
// that window. O(windows).
float* address_of(const WindowPlace& place);

// MPI_Win_sync on every window of this process: what a rank stored into node-shared
// memory before a barrier, its peers load after it (MPI-3.1 sec. 11.7, example 11.21).
// O(windows).
void sync_node_windows();

}  // namespace spmd::collectives::mpi
