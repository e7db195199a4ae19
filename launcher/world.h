// The MPI job from the library's side: the one piece of global state spmd has. A World
// starts MPI when nobody has (and then finishes it), says which rank this is, and carries
// the few job-wide agreements a program needs outside its collectives: rank 0 does a thing
// and every rank learns whether it worked; every rank's figure gathered; the whole job
// stopped with an exit code. A program embedding spmd makes one World, before any other
// use of MPI of ours.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace spmd::launcher {

class World {
 public:
  // Joins the MPI job, calling MPI_Init_thread (funneled) if MPI is not initialised yet;
  // `comm` is the job's communicator (MPI_COMM_WORLD unless the embedding program runs
  // spmd on a sub-communicator). Cost: MPI's start-up when it initialises.
  explicit World(MPI_Comm comm = MPI_COMM_WORLD);
  // Finalises MPI if this World initialised it.
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  MPI_Comm comm() const { return comm_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool lead() const { return rank_ == 0; }

  // Runs `task` on rank 0 only; every rank then throws what it threw (an spmd::JobFailure
  // for a JobFailure, else an spmd::Error with its message) or returns. Collective: one broadcast of the outcome.
  void on_lead(const std::function<void()>& task) const;
  // Every rank's `value`, in rank order, on every rank. Collective: one all-gather.
  std::vector<uint64_t> all_gather(uint64_t value) const;
  // Ends the whole job with `code` (MPI_Abort on several ranks, so no rank is left waiting
  // in a collective; plain exit on one). Flushes stdout and stderr first.
  [[noreturn]] void abort(int code) const;

 private:
  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
  bool initialised_here_ = false;
};

// Whether MPI is initialised and not yet finalised.
bool mpi_running();

}  // namespace spmd::launcher
