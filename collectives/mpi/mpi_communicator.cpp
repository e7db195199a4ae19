#include "collectives/mpi/mpi_communicator.h"

#include <chrono>
#include <sstream>
#include <vector>

#include "collectives/mpi/mpi_call.h"
#include "collectives/mpi/node_flags.h"
#include "common/error.h"
#include "launcher/watchdog.h"

namespace spmd::collectives {
namespace {

// One tag for every point-to-point message: MPI keeps messages between a pair of ranks on
// one communicator in order, and the algorithms post them in the same order on both sides.
constexpr int kTag = 7;

// Nonblocking transfers in flight (a send, a receive, or both, as sendrecv posts them; as
// many as exchange_all posts), and what to call each in an error message. Up to two without
// an allocation: the latency-bound point-to-point path allocates nothing.
struct Transfers {
  struct Peer {
    bool is_recv = false;
    int rank = 0;
    std::size_t floats = 0;  // expected, for a receive
    std::string name() const { return (is_recv ? "recv from rank " : "send to rank ") + std::to_string(rank); }
  };
  static constexpr std::size_t kInline = 2;
  explicit Transfers(std::size_t capacity = kInline) {
    if (capacity <= kInline) return;
    more_requests_.assign(capacity, MPI_REQUEST_NULL);
    more_statuses_.resize(capacity);
    more_peers_.resize(capacity);
    requests = more_requests_.data();
    statuses = more_statuses_.data();
    peers = more_peers_.data();
  }
  Transfers(const Transfers&) = delete;
  Transfers& operator=(const Transfers&) = delete;

  MPI_Request* add(Peer peer) {
    peers[count] = peer;
    return &requests[count++];
  }

  int count = 0;
  MPI_Request* requests = inline_requests_;
  MPI_Status* statuses = inline_statuses_;
  Peer* peers = inline_peers_;

 private:
  MPI_Request inline_requests_[kInline] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  MPI_Status inline_statuses_[kInline]{};
  Peer inline_peers_[kInline];
  std::vector<MPI_Request> more_requests_;
  std::vector<MPI_Status> more_statuses_;
  std::vector<Peer> more_peers_;
};

// Gives up on transfers that did not complete (launcher::abandon_request).
void abandon(Transfers& t) {
  for (int i = 0; i < t.count; ++i) launcher::abandon_request(t.requests[i], t.peers[i].is_recv);
}

int received_floats(const MPI_Status& status) {
  int count = 0;
  MPI_Get_count(&status, MPI_FLOAT, &count);
  return count;
}

// What went wrong with transfer i, which failed with `rc`.
std::string failure(const Transfers::Peer& peer, int rc) {
  int error_class = rc;
  MPI_Error_class(rc, &error_class);
  if (peer.is_recv && error_class == MPI_ERR_TRUNCATE) {
    return "rank " + std::to_string(peer.rank) + " sent more than the " + std::to_string(peer.floats) +
           " floats expected (" + mpi_message(rc) + ")";
  }
  return peer.name() + " failed: " + mpi_message(rc);
}

// The error of a failed MPI_Testall: per request when MPI reports them in the statuses.
std::string failure(const Transfers& t, int rc) {
  if (rc != MPI_ERR_IN_STATUS) return failure(t.peers[0], rc);
  for (int i = 0; i < t.count; ++i) {
    const int error = t.statuses[i].MPI_ERROR;
    if (error != MPI_SUCCESS && error != MPI_ERR_PENDING) return failure(t.peers[i], error);
  }
  return failure(t.peers[0], rc);
}

// A completed receive must have brought exactly the floats the receiver expected (a longer
// message fails earlier, with MPI_ERR_TRUNCATE).
std::string wrong_count(const Transfers& t) {
  for (int i = 0; i < t.count; ++i) {
    const Transfers::Peer& peer = t.peers[i];
    if (!peer.is_recv || received_floats(t.statuses[i]) == static_cast<int>(peer.floats)) continue;
    return "rank " + std::to_string(peer.rank) + " sent " + std::to_string(received_floats(t.statuses[i])) +
           " floats, expected " + std::to_string(peer.floats);
  }
  return "";
}

// The first transfer still pending (the receive, when sendrecv's both are: it is the one
// waiting on its peer).
const Transfers::Peer& stuck(const Transfers& t) {
  const std::vector<std::size_t> waiting = launcher::pending(std::span(t.requests, t.count));
  return t.peers[waiting.empty() ? 0 : waiting.front()];
}

// Completes the transfers within the deadline (launcher::wait_all, the one polling loop),
// checking what arrived. `where` (the error's location) is only built for an error, to keep
// short messages cheap.
template <class Where>
void complete(Transfers& t, std::chrono::duration<double> timeout, const Where& where) {
  const launcher::WaitOutcome outcome =
      launcher::wait_all(std::span(t.requests, t.count), t.statuses, timeout);
  if (outcome.done()) {
    if (const std::string message = wrong_count(t); !message.empty())
      throw JobFailure(message + " (" + where() + ")");
    return;
  }
  if (!outcome.timed_out) {
    const std::string message = failure(t, outcome.rc);
    abandon(t);
    throw JobFailure(message + " (" + where() + ")");
  }
  std::ostringstream message;
  message << stuck(t).name() << " timed out after " << timeout.count() << " s (" << where()
          << "): the peer failed or is not in the same collective";
  abandon(t);
  throw JobFailure(message.str());
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm) : MpiCommunicator(comm, Owned{}) { owned_ = false; }

MpiCommunicator::MpiCommunicator(MPI_Comm comm, Owned) : comm_(comm), owned_(true) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) throw Error("MpiCommunicator: MPI is not initialized (call MPI_Init first)");
  check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  set_timeout(launcher::collective_timeout(timeout()));
}

std::unique_ptr<MpiCommunicator> MpiCommunicator::world() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) throw Error("MpiCommunicator::world: MPI is not initialized (call MPI_Init first)");
  MPI_Comm duplicate = MPI_COMM_NULL;
  MPI_Request request = MPI_REQUEST_NULL;
  launcher::complete_collective(MPI_Comm_idup(MPI_COMM_WORLD, &duplicate, &request), request, MPI_COMM_WORLD,
                                launcher::collective_timeout(),
                                "MpiCommunicator::world: duplicating MPI_COMM_WORLD");
  return adopt(duplicate);
}

std::unique_ptr<MpiCommunicator> MpiCommunicator::adopt(MPI_Comm comm) {
  try {
    return std::unique_ptr<MpiCommunicator>(new MpiCommunicator(comm, Owned{}));
  } catch (...) {
    MPI_Comm_free(&comm);
    throw;
  }
}

MpiCommunicator::~MpiCommunicator() {
  free_node_shared();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owned_ && !finalized && !abandoned_) MPI_Comm_free(&comm_);
}

void MpiCommunicator::complete_in_time(int posted, MPI_Request& request, const std::string& what) const {
  try {
    launcher::complete_collective(posted, request, comm_, timeout(), what);
  } catch (...) {
    if (request != MPI_REQUEST_NULL) abandoned_ = true;
    throw;
  }
}

std::string MpiCommunicator::where() const {
  return "mpi communicator, rank " + std::to_string(rank_) + " of " + std::to_string(size_);
}

void MpiCommunicator::check(int rc, const std::string& what) const {
  if (rc == MPI_SUCCESS) return;
  throw JobFailure(what + " failed: " + mpi_message(rc) + " (" + where() + ")");
}

void MpiCommunicator::check_peer(int peer, const char* role) const {
  if (peer >= 0 && peer < size_) return;
  throw Error(std::string(role) + " rank " + std::to_string(peer) + " is not in this group (" + where() + ")");
}

void MpiCommunicator::send(std::span<const float> data, int dest) {
  check_peer(dest, "send to");
  Transfers t;
  check(MPI_Isend(data.data(), mpi_count(data.size(), "send"), MPI_FLOAT, dest, kTag, comm_, t.add({false, dest})),
        "MPI_Isend to rank " + std::to_string(dest));
  complete(t, timeout(), [this] { return where(); });
}

void MpiCommunicator::recv(std::span<float> data, int source) {
  check_peer(source, "recv from");
  Transfers t;
  check(MPI_Irecv(data.data(), mpi_count(data.size(), "recv"), MPI_FLOAT, source, kTag, comm_,
                  t.add({true, source, data.size()})),
        "MPI_Irecv from rank " + std::to_string(source));
  complete(t, timeout(), [this] { return where(); });
}

void MpiCommunicator::sendrecv(std::span<const float> send, int dest, std::span<float> recv, int source) {
  sendrecv_while(send, dest, recv, source, [] {});
}

void MpiCommunicator::sendrecv_while(std::span<const float> send, int dest, std::span<float> recv, int source,
                                     const std::function<void()>& meanwhile) {
  check_peer(dest, "send to");
  check_peer(source, "recv from");
  Transfers t;
  // The receive first, so the peer's message finds it posted.
  check(MPI_Irecv(recv.data(), mpi_count(recv.size(), "sendrecv"), MPI_FLOAT, source, kTag, comm_,
                  t.add({true, source, recv.size()})),
        "MPI_Irecv from rank " + std::to_string(source));
  if (const int rc = MPI_Isend(send.data(), mpi_count(send.size(), "sendrecv"), MPI_FLOAT, dest, kTag, comm_,
                               t.add({false, dest}));
      rc != MPI_SUCCESS) {
    abandon(t);
    check(rc, "MPI_Isend to rank " + std::to_string(dest));
  }
  try {
    meanwhile();
  } catch (...) {
    abandon(t);
    throw;
  }
  complete(t, timeout(), [this] { return where(); });
}

void MpiCommunicator::exchange_all(std::span<const SendTo> sends, std::span<const RecvFrom> recvs) {
  for (const SendTo& s : sends) check_peer(s.peer, "send to");
  for (const RecvFrom& r : recvs) check_peer(r.peer, "recv from");
  Transfers t(sends.size() + recvs.size());
  // The receives first, so the peers' messages find them posted.
  for (const RecvFrom& r : recvs) {
    if (const int rc = MPI_Irecv(r.data.data(), mpi_count(r.data.size(), "exchange"), MPI_FLOAT, r.peer, kTag, comm_,
                                 t.add({true, r.peer, r.data.size()}));
        rc != MPI_SUCCESS) {
      abandon(t);
      check(rc, "MPI_Irecv from rank " + std::to_string(r.peer));
    }
  }
  for (const SendTo& s : sends) {
    if (const int rc = MPI_Isend(s.data.data(), mpi_count(s.data.size(), "exchange"), MPI_FLOAT, s.peer, kTag, comm_,
                                 t.add({false, s.peer}));
        rc != MPI_SUCCESS) {
      abandon(t);
      check(rc, "MPI_Isend to rank " + std::to_string(s.peer));
    }
  }
  complete(t, timeout(), [this] { return where(); });
}

std::unique_ptr<Communicator> MpiCommunicator::split(int color, int key) const {
  if (color < 0) throw Error("split: color " + std::to_string(color) + " must be >= 0 (" + where() + ")");
  // MPI_Comm_split has no nonblocking form: a barrier with the deadline first, so that a
  // rank that never comes fails the others there rather than hanging them in the split.
  // A rank that gave up at the barrier had posted its part of it, so one that comes later
  // passes the barrier alone: the split then runs under a watchdog of the same deadline.
  MPI_Request barrier = MPI_REQUEST_NULL;
  complete_in_time(MPI_Ibarrier(comm_, &barrier), barrier, "split: the ranks meeting to split");
  MPI_Comm part = MPI_COMM_NULL;
  {
    const launcher::Watchdog watchdog("MPI_Comm_split (" + where() + ")", timeout());
    check(MPI_Comm_split(comm_, color, key, &part), "MPI_Comm_split");
  }
  std::unique_ptr<MpiCommunicator> result = adopt(part);
  result->set_timeout(timeout());
  return result;
}

bool MpiCommunicator::callable_from_another_thread() const {
  int level = MPI_THREAD_SINGLE;
  MPI_Query_thread(&level);
  return level >= MPI_THREAD_SERIALIZED;
}

}  // namespace spmd::collectives
