// The MPI backend's native collectives: MPI's own, with the block layout of primitives.h.
// Each runs in MPI's blocking form under a deadline that ends the process (run_native):
// Open MPI serves the blocking forms with coll/tuned's algorithms (or han's, where chosen)
// and the nonblocking ones with libnbc's schedules, which on 2 ranks here all-reduced 1 MiB
// in 257 us against 114 us, and 16 MiB in 5.9 ms against 2.2 ms. A thread that must not wait
// inside MPI uses the nonblocking form completed within timeout() (complete_in_time); MPI
// cannot cancel a collective, so after such a timeout the buffers stay MPI's until the job ends.
#include <vector>

#include "collectives/mpi/mpi_call.h"
#include "collectives/mpi/mpi_communicator.h"
#include "collectives/mpi/mpi_run_native.h"
#include "collectives/primitives.h"
#include "launcher/mpi_settings.h"

namespace spmd::collectives {

void MpiCommunicator::native_all_reduce(std::span<float> data, ReduceOp op) {
  const int count = mpi_count(data.size(), "MPI_Allreduce");
  run_native(
      "MPI_Allreduce", [&] { return MPI_Allreduce(MPI_IN_PLACE, data.data(), count, MPI_FLOAT, mpi_op(op), comm_); },
      [] { return std::string("MPI_Iallreduce"); },
      [&](MPI_Request* r) { return MPI_Iallreduce(MPI_IN_PLACE, data.data(), count, MPI_FLOAT, mpi_op(op), comm_, r); });
}

void MpiCommunicator::native_reduce_scatter(std::span<const float> data, std::span<float> out, ReduceOp op) {
  const Partition cut = partition(mpi_count(data.size(), "MPI_Reduce_scatter"), size_);
  std::vector<int> counts(size_);
  for (int i = 0; i < size_; ++i) counts[i] = static_cast<int>(cut.count(i));
  run_native(
      "MPI_Reduce_scatter",
      [&] { return MPI_Reduce_scatter(data.data(), out.data(), counts.data(), MPI_FLOAT, mpi_op(op), comm_); },
      [] { return std::string("MPI_Ireduce_scatter"); },
      [&](MPI_Request* r) {
        return MPI_Ireduce_scatter(data.data(), out.data(), counts.data(), MPI_FLOAT, mpi_op(op), comm_, r);
      });
}

void MpiCommunicator::native_all_gather(std::span<const float> in, std::span<float> out) {
  const Partition cut = partition(mpi_count(out.size(), "MPI_Allgatherv"), size_);
  std::vector<int> counts(size_), offsets(size_);
  for (int i = 0; i < size_; ++i) {
    counts[i] = static_cast<int>(cut.count(i));
    offsets[i] = static_cast<int>(cut.offset(i));
  }
  const int mine = static_cast<int>(in.size());
  run_native(
      "MPI_Allgatherv",
      [&] {
        return MPI_Allgatherv(in.data(), mine, MPI_FLOAT, out.data(), counts.data(), offsets.data(), MPI_FLOAT, comm_);
      },
      [] { return std::string("MPI_Iallgatherv"); },
      [&](MPI_Request* r) {
        return MPI_Iallgatherv(in.data(), mine, MPI_FLOAT, out.data(), counts.data(), offsets.data(), MPI_FLOAT, comm_,
                               r);
      });
}

void MpiCommunicator::native_broadcast(std::span<float> data, int root) {
  check_peer(root, "broadcast from");
  const int count = mpi_count(data.size(), "MPI_Bcast");
  run_native(
      "MPI_Bcast", [&] { return MPI_Bcast(data.data(), count, MPI_FLOAT, root, comm_); },
      [&] { return "MPI_Ibcast from rank " + std::to_string(root); },
      [&](MPI_Request* r) { return MPI_Ibcast(data.data(), count, MPI_FLOAT, root, comm_, r); });
}

void MpiCommunicator::native_reduce(std::span<float> data, int root, ReduceOp op) {
  check_peer(root, "reduce to");
  const int count = mpi_count(data.size(), "MPI_Reduce");
  void* send = rank_ == root ? MPI_IN_PLACE : data.data();
  void* receive = rank_ == root ? data.data() : nullptr;
  run_native(
      "MPI_Reduce", [&] { return MPI_Reduce(send, receive, count, MPI_FLOAT, mpi_op(op), root, comm_); },
      [&] { return "MPI_Ireduce to rank " + std::to_string(root); },
      [&](MPI_Request* r) { return MPI_Ireduce(send, receive, count, MPI_FLOAT, mpi_op(op), root, comm_, r); });
}

void MpiCommunicator::native_all_to_all(std::span<const float> in, std::span<float> out) {
  const int block = mpi_count(in.size() / size_, "MPI_Alltoall");
  run_native(
      "MPI_Alltoall", [&] { return MPI_Alltoall(in.data(), block, MPI_FLOAT, out.data(), block, MPI_FLOAT, comm_); },
      [] { return std::string("MPI_Ialltoall"); },
      [&](MPI_Request* r) { return MPI_Ialltoall(in.data(), block, MPI_FLOAT, out.data(), block, MPI_FLOAT, comm_, r); });
}

std::map<std::string, std::string> native_collective_settings() {
  std::map<std::string, std::string> settings = launcher::mpi_collective_settings();
  if (!settings.empty()) settings["spmd_native_collectives"] = "blocking";
  return settings;
}

}  // namespace spmd::collectives
