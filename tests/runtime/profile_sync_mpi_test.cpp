// What a collective waits for the slowest rank (runtime/profile_sync.h), on the ranks of
// mpirun: a rank slower than the others over the whole measurement is the machine's state,
// which the kernels' rates hold, not the round-to-round noise the wait stands for.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>

#include "collectives/mpi/mpi_communicator.h"
#include "kernels/backend.h"
#include "launcher/world.h"
#include "partitioner/search.h"
#include "runtime/profile_sync.h"

namespace spmd::runtime {
namespace {

// The CPU backend, each kernel run `times` over: a rank `times` slower all along.
class Repeating : public kernels::Backend {
 public:
  explicit Repeating(int times) : cpu_(kernels::make_cpu_backend()), times_(times) {}
  std::string_view name() const override { return cpu_->name(); }
  bool supports(std::string_view op, std::span<const ir::TensorType> operands) const override {
    return cpu_->supports(op, operands);
  }
  void run(const ir::Node& node, std::span<const kernels::TensorRef> operands, const kernels::TensorRef& out) override {
    for (int i = 0; i < times_; ++i) cpu_->run(node, operands, out);
  }

 private:
  std::unique_ptr<kernels::Backend> cpu_;
  int times_;
};

// The last rank runs its matmuls 4 times over: counted as a wait, the others' would be 3/5
// of the ranks' mean stretch; beyond the slowest rank's own pace, only the noise is left.
TEST(SyncWait, ARankSlowerAllAlongIsNotCountedAsNoise) {
  launcher::World world;
  if (world.size() < 2) GTEST_SKIP() << "a wait needs two ranks";
  if (world.size() > static_cast<int>(std::thread::hardware_concurrency())) {
    GTEST_SKIP() << "ranks share cores: their turns are not the noise measured here (nor does a profile measure it)";
  }
  collectives::MpiCommunicator comm(world.comm());
  Repeating backend(world.rank() == world.size() - 1 ? 4 : 1);
  partitioner::Profile p;
  std::string table;
  measure_sync_wait(comm, partitioner::flat_topology(world.size()), backend, p, table);
  ASSERT_NE(table.find("sync wait: "), std::string::npos) << table;
  EXPECT_LT(p.sync_wait_fraction, 0.25) << table;
}

}  // namespace
}  // namespace spmd::runtime
