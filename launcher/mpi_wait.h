// Waiting for MPI with a deadline: the one polling loop of spmd. A blocking MPI call waits
// forever for a peer that died or stopped; every wait of ours is instead a nonblocking call
// completed here, which gives up at a deadline so that the job fails with a message naming
// what it waited for, and which backs off while it waits so that a rank waiting for a slow
// or stopped peer leaves its core to others (ranks often share cores with their threads).
#pragma once

#include <mpi.h>

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace spmd::launcher {

using Seconds = std::chrono::duration<double>;

// The longest deadline a wait takes, about 11.6 days: a longer one (or an infinite one)
// would overflow the clock's arithmetic and end the wait at once.
inline constexpr double kLongestTimeoutS = 1e6;
// The shortest, a tenth of a second: a shorter one ends a job while its peers are still in
// MPI_Init (1e-9 s failed every job, naming a rank that had not failed).
inline constexpr double kShortestTimeoutS = 0.1;
// Whether `seconds` is a deadline a wait takes: from kShortestTimeoutS to kLongestTimeoutS.
inline bool valid_timeout(double seconds) { return seconds >= kShortestTimeoutS && seconds <= kLongestTimeoutS; }
// "from 0.1 to 1000000", for messages.
inline std::string timeout_range_text() { return "from 0.1 to 1000000"; }
// `text` read whole as a number of seconds, when it is a valid timeout; nullopt otherwise.
std::optional<Seconds> parse_timeout(const std::string& text);

// The deadline of a wait where the caller sets none: SPMD_COLLECTIVE_TIMEOUT_S when it is
// set, else `fallback` (60 s). Throws spmd::Error when the variable is not a positive
// number of seconds. Cost: one getenv.
Seconds collective_timeout(Seconds fallback = Seconds(60.0));
// `timeout` when given, else collective_timeout().
Seconds collective_timeout(std::optional<Seconds> timeout);

// What became of a wait: every request completed, MPI_Testall returned an error (`rc`), or
// the deadline passed first (the requests still pending are left to the caller).
struct WaitOutcome {
  int rc = MPI_SUCCESS;
  bool timed_out = false;
  bool done() const { return rc == MPI_SUCCESS && !timed_out; }
};

// How a thread waits once its first polls found nothing: `back_off` leaves its core to
// others (ranks or threads sharing it), `poll` keeps polling, yielding the core between
// polls, as Open MPI's blocking calls poll where the node is not oversubscribed. A rank
// that sleeps wakes late: on 2 ranks with a core each, a ring all-reduce of 1 MiB entered
// 0.5 and 2 ms after the peer ended 259 and 382 us after the last entry, against 98 us
// lined up; polling, 104 and 115 us (bench_idle_wait).
enum class IdleWait { back_off, poll };
// Sets how the calling thread's waits (wait_all) go from now on; `back_off` unless set.
// Job::bind sets `poll` on its thread where every rank has its cores to itself. O(1).
void set_idle_wait(IdleWait how);
IdleWait idle_wait();

// Whether this node's ranks outnumber its CPUs, so that they take turns on them: where
// Open MPI's launcher placed more ranks than the node has slots (OMPI_MCA_mpi_oversubscribe=1,
// which it sets for each rank and which makes its own progress engine yield the core
// whenever a poll finds nothing: mpi_yield_when_idle), or where the launcher says it started
// more ranks here than the node has CPUs online (Open MPI's OMPI_COMM_WORLD_LOCAL_SIZE,
// MPICH's MPI_LOCALNRANKS: a hostfile may give more slots than cores). Then every wait
// yields from its first poll (a spin only holds the core its peer needs), and the
// shared-memory collectives copy in rank order. Read once.
bool node_oversubscribed();

// node_oversubscribed's rule: `oversubscribe_flag` Open MPI's variable (nullptr: unset),
// `ranks_here` the ranks the launcher says it started on the node (0: unknown), `cpus` the
// node's CPUs online. O(1).
bool ranks_outnumber_cpus(const char* oversubscribe_flag, int ranks_here, unsigned cpus);

// Whether this thread may wait inside MPI's blocking calls: MPI's own collectives, under a
// DeadlineGuard (deadline_guard.h: faster than their nonblocking forms). Otherwise it waits
// only in wait_all, which backs off: a communication stream's thread, whose waits would
// take the core from the compute beside it (a blocking MPI wait polls without a pause
// where the node is not oversubscribed). True unless set. O(1).
void set_blocking_waits(bool allowed);
bool blocking_waits();

// Polls `requests` with MPI_Testall (which drives MPI's progress as a blocking wait would)
// until all complete, MPI reports an error, or `timeout` passes; `statuses` as for
// MPI_Testall (MPI_STATUSES_IGNORE, or one per request). Backs off as the wait grows: the
// first 1,024 polls spin (a transfer under way completes at once), the next 1,024 yield
// the core between polls (under IdleWait::poll, every poll of the first 10 ms), then it
// sleeps between polls, from 1 us doubling to 100 us, and
// once the wait has lasted 10 ms up to 1 ms: a long wait (a stopped peer) costs about a
// thousand polls a second and a few percent of a core. Not 1 ms from the start: a rank asleep
// does not progress its share of a collective, so its peers waited for its sleep too, and
// two ranks' waits grew into each other (on 2 ranks, 4 of 11 profiles measured the wait for
// a peer at 19-211% of the stretch before it, against 2-15% in all 11 with 100 us). Reads
// the clock every 64 polls while spinning, at every poll after.
WaitOutcome wait_all(std::span<MPI_Request> requests, MPI_Status* statuses, Seconds timeout);

// Gives up on a point-to-point `request` that did not complete: a receive is cancelled and
// completes locally within a moment, unless its message had begun to arrive (a large one,
// matched): it then waits for its sender, which a stopped rank never is, so it is left to
// MPI after 0.1 s (its buffer MPI's until the job ends, as a native collective's after a
// timeout; waiting for it hung the job's failure). A send is only released (MPI may not
// be able to cancel one already under way).
void abandon_request(MPI_Request& request, bool is_receive);

// The indexes of `requests` that have not completed (MPI_Request_get_status: nothing is
// freed), to name the peers a timed-out wait was left waiting for. O(requests).
std::vector<std::size_t> pending(std::span<const MPI_Request> requests);

// MPI's text for an error code.
std::string mpi_message(int rc);

// Completes `request`, a nonblocking collective of `comm` (MPI_Iallreduce, MPI_Ibcast, ...)
// that the call returning `posted` started, within `timeout`, or throws spmd::JobFailure:
// "<what> failed: <MPI's message> (rank r of n)" (also when `posted` is an error), or
// "<what> timed out after T s (rank r of n): a rank failed, stopped, or is not in the same
// collective" (MPI does not say which). MPI cannot cancel a collective, so after a timeout
// the request stays pending: the buffers it was given must outlive it, and `comm` serves no
// further collective; the job is meant to end. Cost: wait_all's. Written
// complete_collective(MPI_Iallreduce(..., &request), request, comm, timeout, what).
void complete_collective(int posted, MPI_Request& request, MPI_Comm comm, Seconds timeout,
                         const std::string& what);

// Every rank of `comm` has reached this point within `timeout` (an MPI_Ibarrier), else
// spmd::JobFailure as complete_collective says. Put before an MPI call that has no
// nonblocking form (MPI_Comm_split), so that a missing rank is noticed at a deadline rather
// than by hanging in it. Cost: one barrier.
void arrive_together(MPI_Comm comm, Seconds timeout, const std::string& what);

// The ranks of `comm` that share memory with this one (MPI_Comm_split_type, keyed by rank),
// within `timeout`: every rank first arrives (arrive_together, `what` naming the meeting),
// then the split, which has no nonblocking form, runs under a Watchdog of the same
// deadline: a rank that gave up at the barrier had posted its part of it, so one that came
// later would pass the barrier alone and wait in the split forever. The caller frees the
// result; MPI_COMM_NULL where MPI refuses the split.
MPI_Comm split_by_node(MPI_Comm comm, Seconds timeout, const std::string& what);

}  // namespace spmd::launcher
