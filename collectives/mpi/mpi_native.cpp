// The MPI backend's native collectives: MPI's own, with the block layout of primitives.h.
#include <vector>

#include "collectives/mpi/mpi_call.h"
#include "collectives/mpi/mpi_communicator.h"
#include "collectives/primitives.h"

namespace spmd::collectives {

void MpiCommunicator::native_all_reduce(std::span<float> data, ReduceOp op) {
  check(MPI_Allreduce(MPI_IN_PLACE, data.data(), mpi_count(data.size(), "MPI_Allreduce"), MPI_FLOAT, mpi_op(op),
                      comm_),
        "MPI_Allreduce");
}

void MpiCommunicator::native_reduce_scatter(std::span<const float> data, std::span<float> out, ReduceOp op) {
  const Partition cut = partition(mpi_count(data.size(), "MPI_Reduce_scatter"), size_);
  std::vector<int> counts(size_);
  for (int i = 0; i < size_; ++i) counts[i] = static_cast<int>(cut.count(i));
  check(MPI_Reduce_scatter(data.data(), out.data(), counts.data(), MPI_FLOAT, mpi_op(op), comm_),
        "MPI_Reduce_scatter");
}

void MpiCommunicator::native_all_gather(std::span<const float> in, std::span<float> out) {
  const Partition cut = partition(mpi_count(out.size(), "MPI_Allgatherv"), size_);
  std::vector<int> counts(size_), offsets(size_);
  for (int i = 0; i < size_; ++i) {
    counts[i] = static_cast<int>(cut.count(i));
    offsets[i] = static_cast<int>(cut.offset(i));
  }
  check(MPI_Allgatherv(in.data(), static_cast<int>(in.size()), MPI_FLOAT, out.data(), counts.data(),
                       offsets.data(), MPI_FLOAT, comm_),
        "MPI_Allgatherv");
}

void MpiCommunicator::native_broadcast(std::span<float> data, int root) {
  check_peer(root, "broadcast from");
  check(MPI_Bcast(data.data(), mpi_count(data.size(), "MPI_Bcast"), MPI_FLOAT, root, comm_), "MPI_Bcast");
}

void MpiCommunicator::native_reduce(std::span<float> data, int root, ReduceOp op) {
  check_peer(root, "reduce to");
  const int count = mpi_count(data.size(), "MPI_Reduce");
  const int rc = rank_ == root ? MPI_Reduce(MPI_IN_PLACE, data.data(), count, MPI_FLOAT, mpi_op(op), root, comm_)
                               : MPI_Reduce(data.data(), nullptr, count, MPI_FLOAT, mpi_op(op), root, comm_);
  check(rc, "MPI_Reduce");
}

void MpiCommunicator::native_all_to_all(std::span<const float> in, std::span<float> out) {
  const int block = mpi_count(in.size() / size_, "MPI_Alltoall");
  check(MPI_Alltoall(in.data(), block, MPI_FLOAT, out.data(), block, MPI_FLOAT, comm_), "MPI_Alltoall");
}

}  // namespace spmd::collectives
