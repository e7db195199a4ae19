// The MPI backend's native collectives: MPI's own, with the block layout of primitives.h.
// Each is MPI's nonblocking form completed within timeout() (complete_in_time),
// so that a rank that never joins fails the others instead of hanging them; MPI cannot
// cancel a collective, so after a timeout the buffers stay MPI's until the job ends.
#include <vector>

#include "collectives/mpi/mpi_call.h"
#include "collectives/mpi/mpi_communicator.h"
#include "collectives/primitives.h"

namespace spmd::collectives {

void MpiCommunicator::native_all_reduce(std::span<float> data, ReduceOp op) {
  MPI_Request request = MPI_REQUEST_NULL;
  complete_in_time(
      MPI_Iallreduce(MPI_IN_PLACE, data.data(), mpi_count(data.size(), "MPI_Allreduce"), MPI_FLOAT,
                     mpi_op(op), comm_, &request),
      request, "MPI_Iallreduce");
}

void MpiCommunicator::native_reduce_scatter(std::span<const float> data, std::span<float> out, ReduceOp op) {
  const Partition cut = partition(mpi_count(data.size(), "MPI_Reduce_scatter"), size_);
  std::vector<int> counts(size_);
  for (int i = 0; i < size_; ++i) counts[i] = static_cast<int>(cut.count(i));
  MPI_Request request = MPI_REQUEST_NULL;
  complete_in_time(
      MPI_Ireduce_scatter(data.data(), out.data(), counts.data(), MPI_FLOAT, mpi_op(op), comm_, &request),
      request, "MPI_Ireduce_scatter");
}

void MpiCommunicator::native_all_gather(std::span<const float> in, std::span<float> out) {
  const Partition cut = partition(mpi_count(out.size(), "MPI_Allgatherv"), size_);
  std::vector<int> counts(size_), offsets(size_);
  for (int i = 0; i < size_; ++i) {
    counts[i] = static_cast<int>(cut.count(i));
    offsets[i] = static_cast<int>(cut.offset(i));
  }
  MPI_Request request = MPI_REQUEST_NULL;
  complete_in_time(MPI_Iallgatherv(in.data(), static_cast<int>(in.size()), MPI_FLOAT, out.data(),
                                                counts.data(), offsets.data(), MPI_FLOAT, comm_, &request),
                                request, "MPI_Iallgatherv");
}

void MpiCommunicator::native_broadcast(std::span<float> data, int root) {
  check_peer(root, "broadcast from");
  MPI_Request request = MPI_REQUEST_NULL;
  complete_in_time(
      MPI_Ibcast(data.data(), mpi_count(data.size(), "MPI_Bcast"), MPI_FLOAT, root, comm_, &request), request, "MPI_Ibcast from rank " + std::to_string(root));
}

void MpiCommunicator::native_reduce(std::span<float> data, int root, ReduceOp op) {
  check_peer(root, "reduce to");
  const int count = mpi_count(data.size(), "MPI_Reduce");
  MPI_Request request = MPI_REQUEST_NULL;
  const int rc =
      rank_ == root
          ? MPI_Ireduce(MPI_IN_PLACE, data.data(), count, MPI_FLOAT, mpi_op(op), root, comm_, &request)
          : MPI_Ireduce(data.data(), nullptr, count, MPI_FLOAT, mpi_op(op), root, comm_, &request);
  complete_in_time(rc, request, "MPI_Ireduce to rank " + std::to_string(root));
}

void MpiCommunicator::native_all_to_all(std::span<const float> in, std::span<float> out) {
  const int block = mpi_count(in.size() / size_, "MPI_Alltoall");
  MPI_Request request = MPI_REQUEST_NULL;
  complete_in_time(
      MPI_Ialltoall(in.data(), block, MPI_FLOAT, out.data(), block, MPI_FLOAT, comm_, &request), request, "MPI_Ialltoall");
}

}  // namespace spmd::collectives
