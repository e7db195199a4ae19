// A group of ranks that exchange buffers: the one interface every collective algorithm is
// written against. The MPI backend (collectives/mpi) wraps an MPI communicator; the NCCL
// backend (collectives/nccl) a NCCL one. Sub-groups (the ranks of one mesh axis, of one
// node) come from split().
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/host_memory.h"

namespace spmd::collectives {

enum class ReduceOp { sum, max };

// Gives a CommBuffer back: `release(context, p)`; nothing when `release` is null.
struct CommBufferRelease {
  void (*release)(void* context, float* p) = nullptr;
  void* context = nullptr;
  void operator()(float* p) const {
    if (release) release(context, p);
  }
};

// A buffer of floats in a communicator's memory, given back by its own deleter.
using CommBuffer = std::unique_ptr<float[], CommBufferRelease>;

// `n` floats (at least one) of private host memory (allocate_host), freed with it: where
// a CommBuffer is wanted but no communicator's pool is.
CommBuffer private_comm_buffer(std::size_t n, HugePages huge);

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;  // "mpi", "nccl"
  // Whether another thread than the one that made it may call it (one at a time): what
  // a communication stream needs (runtime/comm_stream.h). MPI: a thread level of at least
  // MPI_THREAD_SERIALIZED.
  virtual bool callable_from_another_thread() const { return false; }

  // Point-to-point, the building blocks of the algorithms. A receive of another size than
  // what the peer sent, or no progress within timeout(), throws spmd::JobFailure naming the peer.
  virtual void send(std::span<const float> data, int dest) = 0;
  virtual void recv(std::span<float> data, int source) = 0;
  // Sends to `dest` while receiving from `source`: the deadlock-free exchange of rings and
  // butterflies. `send` and `recv` must not overlap.
  virtual void sendrecv(std::span<const float> send, int dest, std::span<float> recv, int source) = 0;
  // sendrecv, running `meanwhile` on this thread while the transfer is in flight: local work
  // that touches neither buffer (an all-gather's copy of its own block hides behind the
  // exchange: 2 ranks, 1 MiB, 65 against 77 us here). By default it runs after.
  virtual void sendrecv_while(std::span<const float> send, int dest, std::span<float> recv, int source,
                              const std::function<void()>& meanwhile);

  // Every send and receive posted at once, then all waited for (MPI: MPI_Isend and
  // MPI_Irecv, one deadline): a rank completes its transfers in whatever order its peers
  // come, not round by round, which matters most where ranks take turns on a core. By
  // default one sendrecv of sends[i] with recvs[i] after another: callers list them so that
  // round i pairs up across the group (to rank + i, from rank - i).
  struct SendTo {
    std::span<const float> data;
    int peer = 0;
  };
  struct RecvFrom {
    std::span<float> data;
    int peer = 0;
  };
  virtual void exchange_all(std::span<const SendTo> sends, std::span<const RecvFrom> recvs);

  // The ranks of this group with the same `color`, ordered by `key`. Collective: every rank
  // of the group calls it.
  virtual std::unique_ptr<Communicator> split(int color, int key) const = 0;

  // The backend library's own collectives (Algorithm::native), with the semantics of
  // primitives.h: the baseline our algorithms are measured against, and a fallback.
  virtual void native_all_reduce(std::span<float> data, ReduceOp op) = 0;
  virtual void native_reduce_scatter(std::span<const float> data, std::span<float> out, ReduceOp op) = 0;
  virtual void native_all_gather(std::span<const float> in, std::span<float> out) = 0;
  virtual void native_broadcast(std::span<float> data, int root) = 0;
  virtual void native_reduce(std::span<float> data, int root, ReduceOp op) = 0;
  virtual void native_all_to_all(std::span<const float> in, std::span<float> out) = 0;

  // Where the buffers this communicator moves live: host memory (MPI) or the GPU's (NCCL).
  // The algorithms combine, copy and take scratch only through the three calls below, so
  // the same code runs on either; the host versions are plain loops, memcpy and a pool.
  virtual bool device_memory() const { return false; }
  // acc[i] = acc[i] op in[i] (same sizes).
  virtual void combine(std::span<float> acc, std::span<const float> in, ReduceOp op);
  // to = from (same sizes, not overlapping).
  virtual void copy(std::span<const float> from, std::span<float> to);
  // `n` floats of this communicator's memory, uninitialised, valid while the communicator
  // lives. On the host, from a pool of the buffers given back: once warm a collective's
  // scratch allocates nothing (fresh pages fault in one by one: at a few hundred KiB that
  // costs more than the transfer). The pool keeps the few largest buffers returned. None
  // (null) for n = 0.
  virtual CommBuffer allocate(std::size_t n);
  // The floats the host pool keeps between calls (its spare buffers): what the collectives'
  // scratch leaves allocated, a few segments (algorithms/segmented.h) whatever the sizes
  // moved. O(spares).
  std::size_t pooled_floats() const;

  // Memory the ranks of a node reach directly (algorithms/shared_memory.cpp read and write
  // peers' buffers in it, without a message). MPI: MPI shared-memory windows
  // (MPI_Win_allocate_shared) over the group's ranks on each node, of the group's largest
  // request, kept in a pool that lives as long as the communicator (a new window frees the
  // spares smaller than it); on small pages (Linux gives shared memory no
  // transparent huge pages unless /sys/kernel/mm/transparent_hugepage/shmem_enabled says
  // so). Collective over the group: every rank calls it, in the same order, for its own `n`.
  // By default private host memory (in huge pages, as allocate's), which the shared-memory
  // algorithms reach through messages instead. Cost: a small all-reduce, and where the pool
  // has no spare that holds the largest request a new window (an mmap, and a page fault
  // per 4 KiB on first touch on each rank that touches it).
  virtual CommBuffer allocate_node_shared(std::size_t n);
  // Where each rank of the group has each of its `spans` (as many on every rank, in the
  // same roles), as addresses in this process: element r * spans.size() + i is rank r's
  // spans[i] (null where empty). Empty on every rank unless every rank's lie in node-shared
  // memory this rank reaches (allocate_node_shared); by default empty. Collective: one
  // all-gather of 24 bytes a span, which also means every rank has entered.
  virtual std::vector<float*> peer_addresses(std::span<const std::span<const float>> spans);
  // Staging for small collectives (algorithms/shared_memory.cpp): where every rank of the
  // group shares one node, this rank's area of node-shared memory for its next arrival
  // (arrive_staged), of as many floats on every rank; empty elsewhere, and by default.
  // Collective the first time (it may make the area). After that O(1), but it may wait,
  // within timeout(), for peers still reading what this rank staged there two arrivals ago.
  virtual std::span<float> staging();
  // Publishes what this rank stored into staging(), then waits, within timeout(), for rank
  // `from` to do the same (every rank where `from` is kEveryRank): returns the staging area
  // of each rank waited for (element r: rank r's, as this process addresses it; null for
  // the others), readable until this rank calls staging, arrive_staged, peer_addresses or
  // barrier again. One synchronization, no message: a rank whose data no one reads (a
  // broadcast's root) does not wait for its readers. By default throws.
  static constexpr int kEveryRank = -1;
  virtual std::vector<const float*> arrive_staged(int from);
  // Waits for every rank of the group, within timeout(), with the memory of node-shared
  // buffers made consistent on both sides of it (what a rank wrote before it, its peers
  // see after). By default exchanges an empty message with every peer.
  virtual void barrier();

  // How long any operation, point-to-point or native collective, may wait for its peers
  // before it fails with spmd::JobFailure (a rank that died or never joined): 60 s unless
  // set otherwise (also SPMD_COLLECTIVE_TIMEOUT_S). MPI's own collectives, which the MPI
  // backend runs in their blocking form where the thread may wait inside MPI, end the
  // process at that deadline instead (launcher/deadline_guard.h).
  std::chrono::duration<double> timeout() const { return timeout_; }
  void set_timeout(std::chrono::duration<double> t) { timeout_ = t; }

 private:
  struct Spare {
    HostFloats data;
    std::size_t floats = 0;
  };
  void give_back(float* p);

  std::chrono::duration<double> timeout_{60.0};
  mutable std::mutex pool_mutex_;  // a communicator may serve two threads one after the other
  std::vector<Spare> spare_, lent_;
};

}  // namespace spmd::collectives
