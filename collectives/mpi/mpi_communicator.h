// The MPI backend of Communicator. Every point-to-point operation is a nonblocking MPI call
// completed by launcher::wait_all (a polling loop that backs off and gives up at
// timeout()), so a rank whose peer died or never sends fails with an spmd::JobFailure
// naming the peer instead of hanging. MPI's own collectives run in their blocking form,
// faster, under a deadline that ends the process naming the call
// (launcher::DeadlineGuard), except on a thread that must not wait inside MPI
// (launcher::blocking_waits), where they too are nonblocking and fail with an
// spmd::JobFailure; a split first meets at a barrier with the deadline. MPI errors are returned (the
// communicator's error handler is set to MPI_ERRORS_RETURN) and raised as spmd::JobFailure.
#pragma once

#include <mpi.h>

#include <map>
#include <mutex>
#include <vector>
#include <string>

#include "collectives/communicator.h"

namespace spmd::collectives {

namespace mpi {
class NodeFlags;
struct WindowPlace;
}

class MpiCommunicator : public Communicator {
 public:
  // Wraps `comm` without taking ownership (sets its error handler to MPI_ERRORS_RETURN).
  explicit MpiCommunicator(MPI_Comm comm);
  // A duplicate of MPI_COMM_WORLD, owned, so our messages never meet anyone else's.
  // Collective over MPI_COMM_WORLD, within SPMD_COLLECTIVE_TIMEOUT_S (else 60 s).
  static std::unique_ptr<MpiCommunicator> world();
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  MPI_Comm handle() const { return comm_; }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  bool callable_from_another_thread() const override;

  void send(std::span<const float> data, int dest) override;
  void recv(std::span<float> data, int source) override;
  void sendrecv(std::span<const float> send, int dest, std::span<float> recv, int source) override;
  void sendrecv_while(std::span<const float> send, int dest, std::span<float> recv, int source,
                      const std::function<void()>& meanwhile) override;
  void exchange_all(std::span<const SendTo> sends, std::span<const RecvFrom> recvs) override;
  std::unique_ptr<Communicator> split(int color, int key) const override;

  void native_all_reduce(std::span<float> data, ReduceOp op) override;
  void native_reduce_scatter(std::span<const float> data, std::span<float> out, ReduceOp op) override;
  void native_all_gather(std::span<const float> in, std::span<float> out) override;
  void native_broadcast(std::span<float> data, int root) override;
  void native_reduce(std::span<float> data, int root, ReduceOp op) override;
  void native_all_to_all(std::span<const float> in, std::span<float> out) override;

  // Node-shared memory in MPI shared-memory windows over this group's ranks on each node
  // (node_windows.h), pooled: a window given back is kept for a later call, and all are
  // freed with the communicator (collective, in the order made). Where the whole group
  // shares one node, peer_addresses and barrier meet through flags in such a window
  // (node_flags.h) instead of MPI's all-gather and barrier, and small collectives stage
  // their data beside the flags. mpi_node_shared.cpp.
  CommBuffer allocate_node_shared(std::size_t n) override;
  std::vector<float*> peer_addresses(std::span<const std::span<const float>> spans) override;
  void barrier() override;
  std::span<float> staging() override;
  std::vector<const float*> arrive_staged(int from) override;

 private:
  struct Owned {};
  MpiCommunicator(MPI_Comm comm, Owned);
  // Takes ownership of `comm`, a communicator we created (freed also if construction fails).
  static std::unique_ptr<MpiCommunicator> adopt(MPI_Comm comm);

  // Throws spmd::Error "<what> failed: <MPI's message> (<where>)" unless rc is MPI_SUCCESS.
  void check(int rc, const std::string& what) const;
  std::string where() const;
  void check_peer(int peer, const char* role) const;
  // launcher::complete_collective on this communicator within timeout(). A collective that
  // timed out stays pending (MPI can neither cancel nor free it), so the communicator is
  // then never freed: Open MPI would go on progressing the operation on freed memory.
  void complete_in_time(int posted, MPI_Request& request, const std::string& what) const;
  // MPI's own collective: its blocking form `blocking` (named `call`) under a
  // launcher::DeadlineGuard of timeout() where this thread may wait inside MPI
  // (launcher::blocking_waits), else its nonblocking form `posted` (named `what`) completed
  // in time (`what` is built only then). An error MPI reports throws spmd::JobFailure. A
  // template: no std::function to allocate on a
  // path of a few microseconds. Defined in mpi_run_native.h.
  template <class Blocking, class What, class Posted>
  void run_native(const char* call, const Blocking& blocking, const What& what, const Posted& posted) const;

  struct SharedSpare {
    int64_t window = 0;
    float* data = nullptr;
    std::size_t floats = 0;
    bool lent = false;
  };
  void give_back_shared(float* p);
  void free_node_shared();
  // This group's ranks on this rank's node (node_), split at the first call. Collective.
  void split_node();
  // The group's node-shared flags, made at the first call where every rank of the group
  // shares this node; null elsewhere. Collective at the first call.
  mpi::NodeFlags* node_flags();
  // Every rank's `mine`, rank r's at r * mine.size(), through MPI's all-gather.
  std::vector<mpi::WindowPlace> gather_places(std::span<const mpi::WindowPlace> mine) const;

  MPI_Comm comm_;
  MPI_Comm node_ = MPI_COMM_NULL;  // this group's ranks on this rank's node, split at first need
  std::vector<SharedSpare> shared_;  // in the order made
  std::unique_ptr<mpi::NodeFlags> flags_;
  bool flags_checked_ = false;
  std::mutex shared_mutex_;
  bool owned_;
  mutable bool abandoned_ = false;  // a nonblocking collective on it timed out
  int rank_ = 0;
  int size_ = 1;
};

// What chooses the algorithms of MPI's own collectives as this backend calls them: Open
// MPI's coll settings (launcher::mpi_collective_settings) and, where those were found,
// "spmd_native_collectives" -> "blocking" (mpi_native.cpp; profiles taken before timed the
// nonblocking forms, which run other, slower algorithms). What a profile records and a job
// compares with it (partitioner::mpi_settings_changed). Cost: mpi_collective_settings'.
std::map<std::string, std::string> native_collective_settings();

}  // namespace spmd::collectives
