// Flags in node-shared memory for a group whose ranks all share one node: what frames the
// shared-memory collectives (algorithms/shared_memory.cpp) in place of two of MPI's (an
// all-gather of where the buffers lie, a barrier), and carries the small ones' data. Each
// rank has a slot in an MPI shared-memory window (node_windows.h): three counters (arrived,
// departed, read), the places of its buffers and a staging area. A rank stores its places
// or data, then its arrival (a release store), and loads its peers' arrivals (acquire
// loads) until they reach it; departures the same. No message and no MPI call: on 2 ranks
// about 0.2 us against 1-2 us for each of MPI's (the counters' cache lines move between
// cores), as single-node collectives in Open MPI's coll/sm and NCCL's LL protocol meet
// (flags in shared memory, counts that only grow).
//
// The places and staging areas come in two sets, by the parity of the arrival, and a
// member stores a set again only after every peer has read it: each records the last
// arrival it read (`read`), when it has (the places, within the call; staged data, at its
// next call, as the caller reads them after arrive_staged returns). So a staged broadcast's
// root does not wait for its readers, nor a reader for the others: only the ranks whose
// data it reads.
// Internal to collectives/mpi.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "collectives/mpi/node_windows.h"
#include "launcher/mpi_wait.h"

namespace spmd::collectives::mpi {

class NodeFlags {
 public:
  // The places a rank publishes at once: more go through MPI's all-gather.
  static constexpr std::size_t kMaxPlaces = 256;
  // The floats a member stages for one arrival (64 KiB): what small collectives copy in.
  static constexpr std::size_t kStagingFloats = 16384;

  // A window of one slot a member over `node`, every member's slot zeroed before any is
  // read. Collective over `node`, within `timeout` (node_windows.h, launcher::arrive_together).
  NodeFlags(MPI_Comm node, launcher::Seconds timeout);
  int64_t window() const { return window_; }

  // Stores `mine` (at most kMaxPlaces, as many on every member), arrives, and waits for
  // every member to arrive; returns every member's places, member r's at r * mine.size().
  // Throws spmd::JobFailure naming the members that did not arrive within `timeout`.
  // O(members * places).
  std::vector<WindowPlace> exchange(std::span<const WindowPlace> mine, launcher::Seconds timeout);
  // This member's staging area for its next arrival, once every peer has read what it
  // staged there two arrivals ago (within `timeout`, else spmd::JobFailure).
  std::span<float> staging(launcher::Seconds timeout);
  // Arrives and waits for member `from` (every member where negative); returns the staging
  // areas of this arrival of those waited for (null for the others), readable until this
  // member calls again. Throws as exchange does. O(members).
  std::vector<const float*> arrive_staged(int from, launcher::Seconds timeout);
  // Departs and waits for every member to depart: what a member stored into node-shared
  // memory before it, every member loads after it. Throws as exchange does. O(members).
  void barrier(launcher::Seconds timeout);

 private:
  struct Slot;
  // The slot of a member whose window segment starts at `base` (rounded up to a cache line:
  // the same place in every process, as a mapping of the same file starts at the same
  // offset within a page).
  static Slot* slot_at(float* base);
  // Records the staged data of the last arrival as read, where the caller had it to read.
  void mark_read();
  // Waits until every peer has read this member's set of the next arrival, two arrivals ago.
  void await_readers(launcher::Seconds timeout) const;
  // The set (0 or 1) this member's next arrival stands for, once it may be written: the last
  // arrival marked read, and every peer done with the set (mark_read, await_readers).
  std::size_t next_set(launcher::Seconds timeout);
  // Stores the next arrival and waits for member `from`'s (every member's where negative);
  // returns the set (0 or 1) of places and staging areas it stands for.
  std::size_t arrive(int from, launcher::Seconds timeout);
  // Waits until the counter (`arrived`, `departed` or `read`) of every member in [first,
  // last) reaches `count`.
  void wait_for(uint64_t Slot::*counter, uint64_t count, std::size_t first, std::size_t last,
                launcher::Seconds timeout, const char* what) const;
  Slot& mine() const { return *slots_[static_cast<std::size_t>(rank_)]; }

  int64_t window_ = 0;
  int rank_ = 0;
  std::vector<Slot*> slots_;  // every member's, in this process's address space
  uint64_t arrivals_ = 0, departures_ = 0;  // this member's counts so far
  bool unread_ = false;  // the last arrival's staged data are the caller's to read
};

}  // namespace spmd::collectives::mpi
