#include "collectives/nccl/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <chrono>
#include <sstream>

#include "collectives/nccl/combine.h"
#include "collectives/primitives.h"
#include "common/error.h"
#include "launcher/mpi_wait.h"

namespace spmd::collectives {
namespace {

ncclRedOp_t nccl_op(ReduceOp op) { return op == ReduceOp::sum ? ncclSum : ncclMax; }

void check_cuda(cudaError_t rc, const std::string& what) {
  if (rc != cudaSuccess) throw Error("NCCL: " + what + " failed: " + cudaGetErrorString(rc));
}

// Where a rank runs: its GPU, its NCCL communicator and the stream its transfers go on.
class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(ncclComm_t comm, int device) : comm_(comm), device_(device) {
    check(ncclCommUserRank(comm_, &rank_), "ncclCommUserRank");
    check(ncclCommCount(comm_, &size_), "ncclCommCount");
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  ~NcclCommunicator() override {
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
    if (comm_ != nullptr) ncclCommDestroy(comm_);
  }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }

  void send(std::span<const float> data, int dest) override {
    check(ncclSend(data.data(), data.size(), ncclFloat, dest, comm_, stream_), "ncclSend");
    synchronize("send to rank " + std::to_string(dest));
  }
  void recv(std::span<float> data, int source) override {
    check(ncclRecv(data.data(), data.size(), ncclFloat, source, comm_, stream_), "ncclRecv");
    synchronize("recv from rank " + std::to_string(source));
  }
  void sendrecv(std::span<const float> send, int dest, std::span<float> recv, int source) override {
    check(ncclGroupStart(), "ncclGroupStart");
    check(ncclSend(send.data(), send.size(), ncclFloat, dest, comm_, stream_), "ncclSend");
    check(ncclRecv(recv.data(), recv.size(), ncclFloat, source, comm_, stream_), "ncclRecv");
    check(ncclGroupEnd(), "ncclGroupEnd");
    synchronize("recv from rank " + std::to_string(source));
  }

  // Every transfer in one NCCL group: they run at once, as MPI's posted requests do.
  void exchange_all(std::span<const SendTo> sends, std::span<const RecvFrom> recvs) override {
    check(ncclGroupStart(), "ncclGroupStart");
    for (const SendTo& s : sends) check(ncclSend(s.data.data(), s.data.size(), ncclFloat, s.peer, comm_, stream_), "ncclSend");
    for (const RecvFrom& r : recvs) check(ncclRecv(r.data.data(), r.data.size(), ncclFloat, r.peer, comm_, stream_), "ncclRecv");
    check(ncclGroupEnd(), "ncclGroupEnd");
    synchronize("exchange of " + std::to_string(sends.size()) + " sends and " + std::to_string(recvs.size()) + " receives");
  }

  std::unique_ptr<Communicator> split(int color, int key) const override {
    ncclComm_t part = nullptr;
    check(ncclCommSplit(comm_, color, key, &part, nullptr), "ncclCommSplit");
    auto result = std::make_unique<NcclCommunicator>(part, device_);
    result->set_timeout(timeout());
    return result;
  }

  void native_all_reduce(std::span<float> data, ReduceOp op) override {
    check(ncclAllReduce(data.data(), data.data(), data.size(), ncclFloat, nccl_op(op), comm_, stream_),
          "ncclAllReduce");
    synchronize("ncclAllReduce");
  }
  void native_reduce_scatter(std::span<const float> data, std::span<float> out, ReduceOp op) override;
  void native_all_gather(std::span<const float> in, std::span<float> out) override;
  void native_broadcast(std::span<float> data, int root) override {
    check(ncclBroadcast(data.data(), data.data(), data.size(), ncclFloat, root, comm_, stream_), "ncclBroadcast");
    synchronize("ncclBroadcast");
  }
  void native_reduce(std::span<float> data, int root, ReduceOp op) override {
    check(ncclReduce(data.data(), data.data(), data.size(), ncclFloat, nccl_op(op), root, comm_, stream_),
          "ncclReduce");
    synchronize("ncclReduce");
  }
  void native_all_to_all(std::span<const float> in, std::span<float> out) override;

  // The algorithms' buffers are device memory: they combine with a kernel and copy with
  // cudaMemcpyAsync, on the stream the transfers use, and return when it is done.
  bool device_memory() const override { return true; }
  void combine(std::span<float> acc, std::span<const float> in, ReduceOp op) override {
    nccl::launch_combine(stream_, acc.data(), in.data(), acc.size(), op == ReduceOp::max);
    check_cuda(cudaGetLastError(), "combine kernel");
    synchronize("combine");
  }
  void copy(std::span<const float> from, std::span<float> to) override {
    if (from.empty() || from.data() == to.data()) return;
    check_cuda(cudaMemcpyAsync(to.data(), from.data(), from.size_bytes(), cudaMemcpyDeviceToDevice, stream_),
               "cudaMemcpyAsync");
    synchronize("copy");
  }
  CommBuffer allocate(std::size_t n) override {
    void* p = nullptr;
    check_cuda(cudaMalloc(&p, std::max<std::size_t>(n, 1) * sizeof(float)), "cudaMalloc of scratch");
    return CommBuffer(static_cast<float*>(p), {[](void*, float* q) { cudaFree(q); }, nullptr});
  }

 private:
  std::string where() const {
    return "nccl communicator, rank " + std::to_string(rank_) + " of " + std::to_string(size_);
  }
  void check(ncclResult_t rc, const std::string& what) const {
    if (rc != ncclSuccess && rc != ncclInProgress) {
      throw Error("NCCL: " + what + " failed: " + ncclGetErrorString(rc) + " (" + where() + ")");
    }
  }
  void synchronize(const std::string& what);

  ncclComm_t comm_;
  int device_;
  cudaStream_t stream_ = nullptr;
  int rank_ = 0;
  int size_ = 1;
};

// Waits for the stream, polling NCCL's asynchronous errors, until timeout(): NCCL itself
// would wait forever for a peer that never joins.
void NcclCommunicator::synchronize(const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + timeout();
  cudaError_t state;
  while ((state = cudaStreamQuery(stream_)) == cudaErrorNotReady) {
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(comm_, &async);
    check(async, what);
    if (std::chrono::steady_clock::now() > deadline) {
      ncclCommAbort(comm_);
      comm_ = nullptr;
      std::ostringstream message;
      message << "NCCL: " << what << " timed out after " << timeout().count() << " s (" << where()
              << "); the communicator was aborted";
      throw Error(message.str());
    }
  }
  check_cuda(state, what + " (cudaStreamQuery)");
}

// ncclReduceScatter needs equal blocks; for a partition with uneven blocks, one ncclReduce
// per block to its owner, grouped.
void NcclCommunicator::native_reduce_scatter(std::span<const float> data, std::span<float> out, ReduceOp op) {
  const Partition cut = partition(data.size(), size_);
  if (cut.n % size_ == 0) {
    check(ncclReduceScatter(data.data(), out.data(), out.size(), ncclFloat, nccl_op(op), comm_, stream_),
          "ncclReduceScatter");
  } else {
    check(ncclGroupStart(), "ncclGroupStart");
    for (int i = 0; i < size_; ++i) {
      check(ncclReduce(data.data() + cut.offset(i), out.data(), cut.count(i), ncclFloat, nccl_op(op), i, comm_,
                       stream_),
            "ncclReduce");
    }
    check(ncclGroupEnd(), "ncclGroupEnd");
  }
  synchronize("reduce-scatter");
}

// Likewise ncclAllGather for equal blocks, one ncclBroadcast per block otherwise.
void NcclCommunicator::native_all_gather(std::span<const float> in, std::span<float> out) {
  const Partition cut = partition(out.size(), size_);
  if (cut.n % size_ == 0) {
    check(ncclAllGather(in.data(), out.data(), in.size(), ncclFloat, comm_, stream_), "ncclAllGather");
  } else {
    check(ncclGroupStart(), "ncclGroupStart");
    for (int i = 0; i < size_; ++i) {
      check(ncclBroadcast(in.data(), out.data() + cut.offset(i), cut.count(i), ncclFloat, i, comm_, stream_),
            "ncclBroadcast");
    }
    check(ncclGroupEnd(), "ncclGroupEnd");
  }
  synchronize("all-gather");
}

void NcclCommunicator::native_all_to_all(std::span<const float> in, std::span<float> out) {
  const std::size_t block = in.size() / size_;
  check(ncclGroupStart(), "ncclGroupStart");
  for (int peer = 0; peer < size_; ++peer) {
    check(ncclSend(in.data() + peer * block, block, ncclFloat, peer, comm_, stream_), "ncclSend");
    check(ncclRecv(out.data() + peer * block, block, ncclFloat, peer, comm_, stream_), "ncclRecv");
  }
  check(ncclGroupEnd(), "ncclGroupEnd");
  synchronize("all-to-all");
}

// The rank's index among the ranks of its node, to choose its GPU.
int node_local_rank(MPI_Comm comm, launcher::Seconds timeout) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm node = launcher::split_by_node(comm, timeout, "NCCL: the ranks meeting to split by node");
  if (node == MPI_COMM_NULL) return rank;
  int local = 0;
  MPI_Comm_rank(node, &local);
  MPI_Comm_free(&node);
  return local;
}

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm) {
  int devices = 0;
  if (const cudaError_t rc = cudaGetDeviceCount(&devices); rc != cudaSuccess || devices == 0) {
    const std::string reason = rc != cudaSuccess ? cudaGetErrorString(rc) : "0 devices";
    throw Error("NCCL: no CUDA device visible (cudaGetDeviceCount: " + reason + ")");
  }
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const launcher::Seconds timeout = launcher::collective_timeout();
  const int device = node_local_rank(comm, timeout) % devices;
  check_cuda(cudaSetDevice(device), "cudaSetDevice(" + std::to_string(device) + ")");
  // Rank 0's id, and whether it got one: every rank must leave together if it did not.
  struct {
    ncclUniqueId id{};
    int ok = 1;
  } shared;
  if (rank == 0) shared.ok = ncclGetUniqueId(&shared.id) == ncclSuccess;
  MPI_Request request = MPI_REQUEST_NULL;
  launcher::complete_collective(MPI_Ibcast(&shared, sizeof shared, MPI_BYTE, 0, comm, &request), request, comm, timeout,
                                "NCCL: broadcast of the NCCL id");
  if (!shared.ok) throw Error("NCCL: ncclGetUniqueId failed on rank 0");
  const ncclUniqueId& id = shared.id;
  ncclComm_t nccl = nullptr;
  if (const ncclResult_t rc = ncclCommInitRank(&nccl, size, id, rank); rc != ncclSuccess) {
    throw Error(std::string("NCCL: ncclCommInitRank failed on rank ") + std::to_string(rank) + ": " +
                ncclGetErrorString(rc));
  }
  return std::make_unique<NcclCommunicator>(nccl, device);
}

}  // namespace spmd::collectives
