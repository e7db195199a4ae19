// The MPI job from the library's side: the one piece of global state spmd has. A World
// starts MPI when nobody has (and then finishes it), says which rank this is, and carries
// the few job-wide agreements a program needs outside its collectives: rank 0 does a thing
// and every rank learns whether it worked; every rank's figure gathered; the whole job
// stopped with an exit code. A program embedding spmd makes one World, before any other
// use of MPI of ours.
//
// Every wait of a World has a deadline, timeout(): a rank that died or stopped fails the
// others with spmd::JobFailure naming it, instead of hanging them. The agreements are
// point-to-point messages between rank 0 and each other rank on a private duplicate of the
// communicator, so that rank 0 knows which ranks did not arrive; they cost O(ranks) messages
// at rank 0, which is nothing for the few a job makes (at start, and per checkpoint).
// After a JobFailure the World serves no further agreement: the job is meant to end.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "launcher/mpi_wait.h"

namespace spmd::launcher {

class World {
 public:
  // Joins the MPI job, calling MPI_Init_thread (funneled) if MPI is not initialised yet;
  // `comm` is the job's communicator (MPI_COMM_WORLD unless the embedding program runs
  // spmd on a sub-communicator). Duplicates `comm` for its own messages (MPI_Comm_idup,
  // within the deadline). The deadline is `timeout` where given, else
  // SPMD_COLLECTIVE_TIMEOUT_S, else 60 s: MPI_Init and MPI_Finalize have it too (a
  // watchdog ends the rank). Throws spmd::Error when SPMD_COLLECTIVE_TIMEOUT_S is not a
  // number of seconds, spmd::JobFailure when a rank does not join in time. Cost: MPI's
  // start-up when it initialises, and one duplication.
  explicit World(MPI_Comm comm = MPI_COMM_WORLD, std::optional<Seconds> timeout = std::nullopt);
  // Finalises MPI if this World initialised it.
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  MPI_Comm comm() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool lead() const { return rank_ == 0; }

  // Runs `task` on rank 0 only; every rank then throws what it threw (an spmd::JobFailure
  // for a JobFailure, else an spmd::Error with its message) or returns. `what` names the
  // task in a timeout's message. The other ranks wait for rank 0 at most timeout(), task
  // included: a task must take less (else they fail, saying rank 0 did not report). Cost:
  // the task, then two small messages from rank 0 to each rank (one on a success).
  void on_lead(const std::function<void()>& task, const std::string& what = "rank 0's task") const;
  // Every rank's `value`, in rank order, on every rank. `what` names the figure in a
  // timeout's message, which on rank 0 names the ranks that did not arrive. Cost: each rank
  // sends 8 bytes to rank 0, which sends all 8 x ranks back to each.
  std::vector<uint64_t> all_gather(uint64_t value, const std::string& what = "a figure of every rank") const;
  // The same for several figures at once, every rank giving as many: rank r's `values` at
  // [r x n, (r + 1) x n) of the result, n = values.size(). Cost: each rank sends 8n bytes to
  // rank 0, which sends all 8n x ranks back to each.
  std::vector<uint64_t> all_gather(std::span<const uint64_t> values,
                                   const std::string& what = "figures of every rank") const;
  // Ends the whole job with `code` (MPI_Abort on several ranks, so no rank is left waiting
  // in a collective; plain exit on one). Flushes stdout and stderr first. From then on a
  // SIGTERM (mpirun ending the job) exits quietly with `code`. For bad input
  // (kExitUserError), which every rank finds, it first waits up to a second for the other
  // ranks to end too, so that each exits with the code rather than mpirun's signal.
  [[noreturn]] void abort(int code) const;
  // Ends the job on bad input this rank found (kExitUserError), saying `line` on stderr.
  // Where every rank ends so within a second (the ranks share a flag, a file, a plan that
  // does not fit), the line is said once, by rank 0, when every rank's is the same (else
  // each says its own), and the ranks leave MPI as a finished job does, with no abort and
  // no abort banner from Open MPI; where some rank goes on, as abort(). Cost: a barrier and
  // a gather of 8 bytes a rank.
  [[noreturn]] void end_on_bad_input(const std::string& line) const;

  // How long any wait of the World may last: SPMD_COLLECTIVE_TIMEOUT_S, else 60 s, unless
  // set. A setting of the caller's rather than state of the job, so that code holding a
  // const World (a Job bound to it) can give it the job's deadline.
  Seconds timeout() const { return timeout_; }
  void set_timeout(Seconds timeout) const { timeout_ = timeout; }

 private:
  std::string where() const;
  // abort() without waiting for the other ranks.
  [[noreturn]] void abort_now(int code) const;
  // Whether every rank reaches this within `wait` (a barrier on the private communicator).
  bool all_arrive_within(Seconds wait) const;
  // Leaves MPI as a finished job does (within a deadline) and exits with `code`.
  [[noreturn]] void leave(int code) const;

  MPI_Comm comm_;
  MPI_Comm own_ = MPI_COMM_NULL;  // the duplicate the agreements' messages travel on
  mutable Seconds timeout_{60.0};
  int rank_ = 0;
  int size_ = 1;
  bool initialised_here_ = false;
};

// Whether MPI is initialised and not yet finalised.
bool mpi_running();

}  // namespace spmd::launcher
