// The NCCL communicator on device memory gives the MPI communicator's results: every
// primitive with every algorithm (our own, which combine and copy on the GPU, and NCCL's
// native calls) and every synthesized all-reduce schedule, on the same inputs. Skipped,
// saying why, where there is no GPU per rank (NCCL refuses two ranks of one communicator on
// the same GPU).
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>

#include "collectives/nccl/nccl_communicator.h"
#include "collectives/primitives.h"
#include "collectives/run_schedule.h"
#include "collectives/synthesize.h"
#include "expected_values.h"
#include "mpi_fixture.h"

namespace spmd::collectives::testing {
namespace {

// The GPUs of this node cover its ranks, or why not (the same on every rank: a collective
// decision, so no rank makes a NCCL communicator alone).
std::string why_no_gpu_per_rank(MPI_Comm comm) {
  int gpus = 0;
  if (cudaGetDeviceCount(&gpus) != cudaSuccess) gpus = 0;
  MPI_Comm node;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int local = 0;
  MPI_Comm_size(node, &local);
  MPI_Comm_free(&node);
  int short_of_gpus = local > gpus, any = 0;
  MPI_Allreduce(&short_of_gpus, &any, 1, MPI_INT, MPI_MAX, comm);
  if (!any) return "";
  return gpus == 0 ? "no GPU for NCCL" : "fewer GPUs than ranks on a node: NCCL cannot put two ranks on one GPU";
}

// A device copy of a host vector, and back.
struct DeviceFloats {
  float* p = nullptr;
  size_t n = 0;
  explicit DeviceFloats(const std::vector<float>& host) : n(host.size()) {
    cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(float));
    cudaMemcpy(p, host.data(), n * sizeof(float), cudaMemcpyHostToDevice);
  }
  ~DeviceFloats() { cudaFree(p); }
  std::span<float> span() { return {p, n}; }
  std::vector<float> host() const {
    std::vector<float> h(n);
    cudaMemcpy(h.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost);
    return h;
  }
};

// Native NCCL may sum in another order than MPI: equal within f32 rounding of the sum.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_LE(std::abs(got[i] - want[i]), 1e-5f * (1.f + std::abs(want[i]))) << what << " at " << i;
  }
}

class NcclTest : public MpiTest {
 protected:
  void SetUp() override {
    MpiTest::SetUp();
    if (const std::string why = why_no_gpu_per_rank(comm().handle()); !why.empty()) GTEST_SKIP() << why;
    nccl_ = make_nccl_communicator(comm().handle());
    nccl_->set_timeout(std::chrono::seconds(30));
  }
  std::unique_ptr<Communicator> nccl_;
};

TEST_F(NcclTest, ItsBuffersAreDeviceMemory) { EXPECT_TRUE(nccl_->device_memory()); }

TEST_F(NcclTest, EveryPrimitiveAndAlgorithmGivesMpisResult) {
  for (int64_t n : test_counts(size())) {
    const std::vector<float> in = inputs(rank(), n);
    const Partition cut = partition(n, size());
    for (Algorithm a : algorithms_of("all_reduce")) {
      for (ReduceOp op : {ReduceOp::sum, ReduceOp::max}) {
        std::vector<float> host = in;
        all_reduce(comm(), host, op, a);
        DeviceFloats dev(in);
        all_reduce(*nccl_, dev.span(), op, a);
        expect_close(dev.host(), host, "all_reduce " + to_string(a) + " n=" + std::to_string(n));
      }
    }
    for (Algorithm a : algorithms_of("reduce_scatter")) {
      std::vector<float> host = in, out(cut.count(rank()));
      reduce_scatter(comm(), host, out, ReduceOp::sum, a);
      DeviceFloats dev(in), dev_out{std::vector<float>(out.size())};
      reduce_scatter(*nccl_, dev.span(), dev_out.span(), ReduceOp::sum, a);
      expect_close(dev_out.host(), out, "reduce_scatter " + to_string(a) + " n=" + std::to_string(n));
    }
    const std::vector<float> block(in.begin() + cut.offset(rank()), in.begin() + cut.offset(rank()) + cut.count(rank()));
    for (Algorithm a : algorithms_of("all_gather")) {
      std::vector<float> out(n);
      all_gather(comm(), block, out, a);
      DeviceFloats dev(block), dev_out{std::vector<float>(n)};
      all_gather(*nccl_, dev.span(), dev_out.span(), a);
      expect_close(dev_out.host(), out, "all_gather " + to_string(a) + " n=" + std::to_string(n));
    }
    for (Algorithm a : algorithms_of("broadcast")) {
      std::vector<float> host = in;
      broadcast(comm(), host, size() - 1, a);
      DeviceFloats dev(in);
      broadcast(*nccl_, dev.span(), size() - 1, a);
      expect_close(dev.host(), host, "broadcast " + to_string(a) + " n=" + std::to_string(n));
    }
    for (Algorithm a : algorithms_of("reduce")) {
      std::vector<float> host = in;
      reduce(comm(), host, 0, ReduceOp::sum, a);
      DeviceFloats dev(in);
      reduce(*nccl_, dev.span(), 0, ReduceOp::sum, a);
      if (rank() == 0) expect_close(dev.host(), host, "reduce " + to_string(a) + " n=" + std::to_string(n));
    }
    const int64_t even = n - n % size();
    const std::vector<float> square(in.begin(), in.begin() + even);
    for (Algorithm a : algorithms_of("all_to_all")) {
      std::vector<float> out(even);
      all_to_all(comm(), square, out, a);
      DeviceFloats dev(square), dev_out{std::vector<float>(even)};
      all_to_all(*nccl_, dev.span(), dev_out.span(), a);
      expect_close(dev_out.host(), out, "all_to_all " + to_string(a) + " n=" + std::to_string(even));
    }
  }
}

TEST_F(NcclTest, EverySynthesizedAllReduceScheduleGivesMpisResult) {
  launcher::TopologySource source;
  source.spec = "synthetic:core:" + std::to_string(size());
  source.device = launcher::DeviceKind::core;
  const launcher::Topology topology = launcher::load_topology(source);
  std::vector<int> devices(size());
  for (int i = 0; i < size(); ++i) devices[i] = i;
  ScheduleRunner on_host(comm(), topology, devices), on_device(*nccl_, topology, devices);
  for (int64_t n : {int64_t{1}, int64_t{1001}, int64_t{300000}}) {
    for (const Schedule& s : synthesize(topology, {Primitive::all_reduce, devices, 4.0 * n})) {
      std::vector<float> host = inputs(rank(), n);
      DeviceFloats dev(host);
      on_host.all_reduce(s, host, ReduceOp::sum);
      on_device.all_reduce(s, dev.span(), ReduceOp::sum);
      expect_close(dev.host(), host, s.name + " n=" + std::to_string(n));
    }
  }
}

}  // namespace
}  // namespace spmd::collectives::testing
