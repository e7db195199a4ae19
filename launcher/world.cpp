#include "launcher/world.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/error.h"

namespace spmd::launcher {

bool mpi_running() {
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  return initialised && !finalised;
}

World::World(MPI_Comm comm) : comm_(comm) {
  if (!mpi_running()) {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    initialised_here_ = true;
  }
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

World::~World() {
  if (initialised_here_ && mpi_running()) MPI_Finalize();
}

void World::on_lead(const std::function<void()>& task) const {
  // The first byte says which kind of failure it was, so that a JobFailure stays one.
  std::string failure;
  if (lead()) {
    try {
      task();
    } catch (const JobFailure& e) {
      failure = std::string("J") + e.what();
    } catch (const std::exception& e) {
      failure = std::string("E") + e.what();
    }
    if (failure.size() == 1) failure += "rank 0 failed";
  }
  int length = static_cast<int>(failure.size());
  MPI_Bcast(&length, 1, MPI_INT, 0, comm_);
  failure.resize(static_cast<size_t>(length));
  if (length > 0) MPI_Bcast(failure.data(), length, MPI_CHAR, 0, comm_);
  if (length > 0 && failure[0] == 'J') throw JobFailure(failure.substr(1));
  if (length > 0) throw Error(failure.substr(1));
}

std::vector<uint64_t> World::all_gather(uint64_t value) const {
  std::vector<uint64_t> all(static_cast<size_t>(size_));
  MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, comm_);
  return all;
}

void World::abort(int code) const {
  std::fflush(stdout);
  std::fflush(stderr);
  if (size_ > 1 && mpi_running()) MPI_Abort(comm_, code);
  if (initialised_here_ && mpi_running()) MPI_Finalize();
  std::exit(code);
}

}  // namespace spmd::launcher
