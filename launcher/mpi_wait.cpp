#include "launcher/mpi_wait.h"

#include <cstdlib>
#include <sstream>
#include <string_view>
#include <thread>

#include "common/error.h"
#include "launcher/poll_until.h"
#include "launcher/watchdog.h"

namespace spmd::launcher {
namespace {

thread_local IdleWait this_threads_idle_wait = IdleWait::back_off;
thread_local bool this_thread_waits_blocking = true;

std::string where(MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  return "rank " + std::to_string(rank) + " of " + std::to_string(size);
}

}  // namespace

std::optional<Seconds> parse_timeout(const std::string& text) {
  char* end = nullptr;
  const double seconds = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !valid_timeout(seconds)) return std::nullopt;
  return Seconds(seconds);
}

Seconds collective_timeout(Seconds fallback) {
  const char* text = std::getenv("SPMD_COLLECTIVE_TIMEOUT_S");
  if (text == nullptr || *text == '\0') return fallback;
  const std::optional<Seconds> seconds = parse_timeout(text);
  if (!seconds) {
    throw Error(std::string("SPMD_COLLECTIVE_TIMEOUT_S='") + text + "' is not a number of seconds " + timeout_range_text());
  }
  return *seconds;
}

Seconds collective_timeout(std::optional<Seconds> timeout) {
  return timeout ? *timeout : collective_timeout();
}

bool ranks_outnumber_cpus(const char* oversubscribe_flag, int ranks_here, unsigned cpus) {
  if (oversubscribe_flag && std::string_view(oversubscribe_flag) == "1") return true;
  return cpus > 0 && ranks_here > 0 && static_cast<unsigned>(ranks_here) > cpus;
}

bool node_oversubscribed() {
  static const bool oversubscribed = [] {
    int ranks_here = 0;
    for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"}) {
      if (const char* v = std::getenv(name); v && ranks_here == 0) ranks_here = std::atoi(v);
    }
    return ranks_outnumber_cpus(std::getenv("OMPI_MCA_mpi_oversubscribe"), ranks_here,
                                std::thread::hardware_concurrency());
  }();
  return oversubscribed;
}

void set_idle_wait(IdleWait how) { this_threads_idle_wait = how; }
IdleWait idle_wait() { return this_threads_idle_wait; }

void set_blocking_waits(bool allowed) { this_thread_waits_blocking = allowed; }
bool blocking_waits() { return this_thread_waits_blocking; }

WaitOutcome wait_all(std::span<MPI_Request> requests, MPI_Status* statuses, Seconds timeout) {
  int rc = MPI_SUCCESS;
  const bool ended = poll_until(
      [&] {
        int done = 0;
        rc = MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done, statuses);
        return rc != MPI_SUCCESS || done != 0;
      },
      timeout);
  return {rc, !ended};
}

void abandon_request(MPI_Request& request, bool is_receive) {
  if (request == MPI_REQUEST_NULL) return;
  MPI_Cancel(&request);
  if (is_receive) {
    wait_all(std::span(&request, 1), MPI_STATUSES_IGNORE, Seconds(0.1));
  } else {
    MPI_Request_free(&request);
  }
}

std::vector<std::size_t> pending(std::span<const MPI_Request> requests) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    int done = 1;
    if (requests[i] != MPI_REQUEST_NULL) MPI_Request_get_status(requests[i], &done, MPI_STATUS_IGNORE);
    if (!done) out.push_back(i);
  }
  return out;
}

std::string mpi_message(int rc) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(rc, text, &length) != MPI_SUCCESS) return "MPI error code " + std::to_string(rc);
  return std::string(text, length);
}

void complete_collective(int posted, MPI_Request& request, MPI_Comm comm, Seconds timeout,
                         const std::string& what) {
  if (posted != MPI_SUCCESS)
    throw JobFailure(what + " failed: " + mpi_message(posted) + " (" + where(comm) + ")");
  const WaitOutcome outcome = wait_all(std::span(&request, 1), MPI_STATUSES_IGNORE, timeout);
  if (outcome.done()) return;
  if (!outcome.timed_out)
    throw JobFailure(what + " failed: " + mpi_message(outcome.rc) + " (" + where(comm) + ")");
  std::ostringstream message;
  message << what << " timed out after " << timeout.count() << " s (" << where(comm)
          << "): a rank failed, stopped, or is not in the same collective";
  throw JobFailure(message.str());
}

void arrive_together(MPI_Comm comm, Seconds timeout, const std::string& what) {
  MPI_Request request = MPI_REQUEST_NULL;
  complete_collective(MPI_Ibarrier(comm, &request), request, comm, timeout, what);
}

MPI_Comm split_by_node(MPI_Comm comm, Seconds timeout, const std::string& what) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  arrive_together(comm, timeout, what);
  const Watchdog watchdog("MPI_Comm_split_type (" + what + ")", timeout);
  MPI_Comm node = MPI_COMM_NULL;
  if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node) != MPI_SUCCESS) return MPI_COMM_NULL;
  return node;
}

}  // namespace spmd::launcher
