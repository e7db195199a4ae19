#include "launcher/world.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <sstream>
#include <string>

#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "launcher/watchdog.h"

namespace spmd::launcher {
namespace {

// One tag per kind of agreement, on the World's private communicator.
constexpr int kOutcomeTag = 1;
constexpr int kGatherTag = 2;
// How long a rank ending on bad input waits for the others to end with it.
constexpr Seconds kPartingWait{1.0};
// How long a rank that ends with the others waits in MPI_Finalize.
constexpr Seconds kLeavingWait{10.0};

// The messages of one step of an agreement, each with the rank it goes to or comes from.
// Room for `capacity` messages is reserved up front, so the requests add() hands to MPI
// stay where they are.
struct Exchange {
  std::vector<MPI_Request> requests;
  std::vector<int> peers;
  std::vector<bool> receives;

  explicit Exchange(int capacity) { requests.reserve(static_cast<size_t>(capacity)); }
  MPI_Request* add(int peer, bool receive) {
    requests.push_back(MPI_REQUEST_NULL);
    peers.push_back(peer);
    receives.push_back(receive);
    return &requests.back();
  }
};

// Posts one message (MPI_Isend or MPI_Irecv, given as `post`), or throws its MPI error.
template <class Post>
void post_or_fail(const Post& post, const std::string& what, const std::string& where) {
  if (const int rc = post(); rc != MPI_SUCCESS)
    throw JobFailure(what + " failed: " + mpi_message(rc) + " (" + where + ")");
}

std::string rank_list(const std::vector<int>& ranks) {
  std::string text = ranks.size() == 1 ? "rank " : "ranks ";
  for (size_t i = 0; i < ranks.size(); ++i) text += (i ? ", " : "") + std::to_string(ranks[i]);
  return text;
}

// Completes the exchange within `timeout`. Returns the ranks it was left waiting for (none
// when it completed), after giving up on their messages (abandon_request). Throws
// spmd::JobFailure for an MPI error.
std::vector<int> complete(Exchange& x, Seconds timeout, const std::string& what, const std::string& where) {
  const WaitOutcome outcome = wait_all(x.requests, MPI_STATUSES_IGNORE, timeout);
  if (outcome.done()) return {};
  std::vector<int> missing;
  for (size_t i : pending(x.requests)) {
    missing.push_back(x.peers[i]);
    abandon_request(x.requests[i], x.receives[i]);
  }
  if (!outcome.timed_out) throw JobFailure(what + " failed: " + mpi_message(outcome.rc) + " (" + where + ")");
  return missing;
}

// The code a rank that is ending on its own exits with when mpirun's SIGTERM comes first:
// once one rank aborts, mpirun stops the others, and a rank that has said why it ends
// keeps its own code, quietly.
std::atomic<int> g_ending_code{kExitJobFailure};

void exit_with_own_code(int) { _exit(g_ending_code.load()); }

std::string seconds(Seconds s) {
  std::ostringstream text;
  text << s.count() << " s";
  return text.str();
}

}  // namespace

bool mpi_running() {
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  return initialised && !finalised;
}

World::World(MPI_Comm comm, std::optional<Seconds> timeout) : comm_(comm) {
  timeout_ = collective_timeout(timeout);
  if (!mpi_running()) {
    int provided = 0;
    // MPI_Init waits for every rank to start, with no deadline of its own.
    Watchdog watchdog("MPI_Init (joining the job)", timeout_);
    // Serialized: the executor's communication stream runs collectives on its own thread
    // while the main thread computes, never both calling MPI at once.
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    initialised_here_ = true;
  }
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  MPI_Request request = MPI_REQUEST_NULL;
  complete_collective(MPI_Comm_idup(comm_, &own_, &request), request, comm_, timeout_,
                      "joining the job (duplicating its communicator)");
  MPI_Comm_set_errhandler(own_, MPI_ERRORS_RETURN);
}

World::~World() {
  if (!mpi_running()) return;
  // MPI_Finalize waits for every rank to finish, with no deadline of its own.
  Watchdog watchdog("MPI_Finalize (leaving the job)", timeout_);
  if (own_ != MPI_COMM_NULL) MPI_Comm_free(&own_);
  if (initialised_here_) MPI_Finalize();
}

std::string World::where() const { return "rank " + std::to_string(rank_) + " of " + std::to_string(size_); }

void World::on_lead(const std::function<void()>& task, const std::string& what) const {
  // The first byte says which kind of failure it was, so that a JobFailure stays one.
  std::string failure;
  int length = 0;
  if (lead()) {
    try {
      task();
    } catch (const JobFailure& e) {
      failure = std::string("J") + e.what();
    } catch (const std::exception& e) {
      failure = std::string("E") + e.what();
    }
    if (failure.size() == 1) failure += "rank 0 failed";
    length = static_cast<int>(failure.size());
    Exchange x(2 * size_);
    for (int r = 1; r < size_; ++r) {
      post_or_fail([&] { return MPI_Isend(&length, 1, MPI_INT, r, kOutcomeTag, own_, x.add(r, false)); },
                   what, where());
      if (length == 0) continue;
      post_or_fail(
          [&] { return MPI_Isend(failure.data(), length, MPI_CHAR, r, kOutcomeTag, own_, x.add(r, false)); },
          what, where());
    }
    if (std::vector<int> missing = complete(x, timeout_, what, where()); !missing.empty()) {
      throw JobFailure(what + ": " + rank_list(missing) + " did not take rank 0's outcome within " +
                       seconds(timeout_) + " (" + where() + ")");
    }
  } else {
    // The length, then the text: two waits, each with the whole deadline.
    for (int part = 0; part < 2 && !(part == 1 && length == 0); ++part) {
      if (part == 1) failure.resize(static_cast<size_t>(length));
      Exchange x(1);
      post_or_fail(
          [&] {
            return part == 0
                       ? MPI_Irecv(&length, 1, MPI_INT, 0, kOutcomeTag, own_, x.add(0, true))
                       : MPI_Irecv(failure.data(), length, MPI_CHAR, 0, kOutcomeTag, own_, x.add(0, true));
          },
          what, where());
      if (!complete(x, timeout_, what, where()).empty()) {
        throw JobFailure(what + ": rank 0 did not report within " + seconds(timeout_) + " (" + where() +
                         "): it failed, stopped, or its task took longer than the timeout");
      }
    }
  }
  if (length > 0 && failure[0] == 'J') throw JobFailure(failure.substr(1));
  if (length > 0) throw Error(failure.substr(1));
}

std::vector<uint64_t> World::all_gather(uint64_t value, const std::string& what) const {
  return all_gather(std::span<const uint64_t>(&value, 1), what);
}

std::vector<uint64_t> World::all_gather(std::span<const uint64_t> values, const std::string& what) const {
  const std::string label = "all-gather of " + what;
  const int n = static_cast<int>(values.size());
  std::vector<uint64_t> all(static_cast<size_t>(size_) * values.size());
  std::copy(values.begin(), values.end(), all.begin() + static_cast<std::ptrdiff_t>(rank_) * n);
  if (lead()) {
    Exchange in(size_), out(size_);
    for (int r = 1; r < size_; ++r) {
      post_or_fail([&] { return MPI_Irecv(&all[static_cast<size_t>(r) * n], n, MPI_UINT64_T, r, kGatherTag, own_, in.add(r, true)); },
                   label, where());
    }
    if (std::vector<int> missing = complete(in, timeout_, label, where()); !missing.empty()) {
      throw JobFailure(label + ": " + rank_list(missing) + " did not arrive within " + seconds(timeout_) +
                       " (" + where() + ")");
    }
    for (int r = 1; r < size_; ++r) {
      post_or_fail(
          [&] { return MPI_Isend(all.data(), size_ * n, MPI_UINT64_T, r, kGatherTag, own_, out.add(r, false)); },
          label, where());
    }
    if (std::vector<int> missing = complete(out, timeout_, label, where()); !missing.empty()) {
      throw JobFailure(label + ": " + rank_list(missing) + " did not take the result within " +
                       seconds(timeout_) + " (" + where() + ")");
    }
    return all;
  }
  // Both messages in one wait: rank 0 answers only once every rank has sent.
  Exchange x(2);
  post_or_fail([&] { return MPI_Isend(values.data(), n, MPI_UINT64_T, 0, kGatherTag, own_, x.add(0, false)); },
               label, where());
  post_or_fail(
      [&] { return MPI_Irecv(all.data(), size_ * n, MPI_UINT64_T, 0, kGatherTag, own_, x.add(0, true)); }, label,
      where());
  if (!complete(x, timeout_, label, where()).empty()) {
    throw JobFailure(label + ": rank 0 did not send the result within " + seconds(timeout_) + " (" + where() +
                     "): it or another rank failed, or stopped");
  }
  return all;
}

void World::abort(int code) const {
  // Bad input every rank found (the ranks agree on it: a bad checkpoint, a plan that does
  // not fit) ends them all at once: wait a moment for the others, so that none is stopped
  // by the first one's abort before it has said why. Not for a failure of the job: another
  // thread of this rank may be inside MPI, or a peer never come.
  if (code == kExitUserError && size_ > 1 && mpi_running()) all_arrive_within(kPartingWait);
  abort_now(code);
}

void World::end_on_bad_input(const std::string& line) const {
  const auto say = [&] {
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  };
  if (size_ == 1 || !mpi_running()) {
    say();
    abort_now(kExitUserError);
  }
  if (all_arrive_within(kPartingWait)) {
    const uint64_t mine = fnv64(line.data(), line.size());
    std::vector<uint64_t> all;
    try {
      all = all_gather(mine, "the ranks' errors");
    } catch (const Error&) {
      say();
      abort_now(kExitUserError);
    }
    const bool alike = std::all_of(all.begin(), all.end(), [&](uint64_t h) { return h == all.front(); });
    if (!alike || lead()) say();
    leave(kExitUserError);
  }
  say();
  abort_now(kExitUserError);
}

bool World::all_arrive_within(Seconds wait) const {
  // A barrier still pending when the wait gives up is left so: MPI may not free the request
  // of a nonblocking collective (Open MPI fails MPI_Request_free on it, fatally), and the
  // abort that follows ends it.
  MPI_Request request = MPI_REQUEST_NULL;
  if (MPI_Ibarrier(own_, &request) != MPI_SUCCESS) return false;
  return wait_all(std::span(&request, 1), MPI_STATUSES_IGNORE, std::min(timeout_, wait)).done();
}

void World::abort_now(int code) const {
  std::fflush(stdout);
  std::fflush(stderr);
  if (size_ > 1 && mpi_running()) {
    g_ending_code.store(code);
    struct sigaction action {};
    action.sa_handler = exit_with_own_code;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    MPI_Abort(comm_, code);
  }
  if (initialised_here_ && mpi_running()) MPI_Finalize();
  std::exit(code);
}

void World::leave(int code) const {
  std::fflush(stdout);
  std::fflush(stderr);
  if (initialised_here_ && mpi_running()) {
    // Every rank is here: MPI_Finalize meets them all. A rank stopped on the way (or MPI
    // stuck on a request a failure left) does not hold this one past the deadline.
    const Watchdog watchdog("MPI_Finalize (leaving the job)", std::min(timeout_, kLeavingWait));
    MPI_Finalize();
  }
  std::exit(code);
}

}  // namespace spmd::launcher
