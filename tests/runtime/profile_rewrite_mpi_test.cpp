// What writing over memory a peer process read costs (runtime/profile_rewrite.h), on the
// ranks of mpirun: finite figures, the same on every rank, for an add and the optimizer
// updates only (the program's, where one is given), and none where rank 0 has no peer.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>

#include "collectives/mpi/mpi_communicator.h"
#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "ir/ops.h"
#include "launcher/topology.h"
#include "launcher/world.h"
#include "partitioner/search.h"
#include "runtime/profile_rewrite.h"

namespace spmd::runtime {
namespace {

void expect_the_same_on_every_rank(const launcher::World& world, double figure) {
  for (uint64_t bits : world.all_gather(std::bit_cast<uint64_t>(figure))) EXPECT_EQ(bits, std::bit_cast<uint64_t>(figure));
}

TEST(PeerRewrite, IsOneSetOfFiguresOnEveryRankForOptimizerUpdatesOnly) {
  launcher::World world;
  collectives::MpiCommunicator comm(world.comm());
  std::unique_ptr<kernels::Backend> backend = kernels::make_cpu_backend();
  const PeerRewrite r = measure_peer_rewrite(comm, launcher::discover_job(world.comm()), *backend);
  EXPECT_TRUE(std::isfinite(r.any_Bps));
  EXPECT_GE(r.any_Bps, 0);
  expect_the_same_on_every_rank(world, r.any_Bps);
  ASSERT_EQ(r.by_op.size(), world.size() > 1 ? ir::all_ops().size() : 0);
  for (size_t op = 0; op < r.by_op.size(); ++op) {
    EXPECT_TRUE(std::isfinite(r.by_op[op]));
    if (!ir::all_ops()[op].traits.optimizer_update) {
      EXPECT_EQ(r.by_op[op], 0) << ir::all_ops()[op].name;
    }
    expect_the_same_on_every_rank(world, r.by_op[op]);
  }
  if (world.size() == 1) {
    EXPECT_EQ(r.any_Bps, 0);  // a rank alone has no peer
  }
}

// With a program, its own updates are timed: an SGD step has no AdamW to time.
TEST(PeerRewrite, TimesTheProgramsOwnUpdates) {
  launcher::World world;
  collectives::MpiCommunicator comm(world.comm());
  std::unique_ptr<kernels::Backend> backend = kernels::make_cpu_backend();
  ir::Optimizer sgd;
  sgd.kind = "sgd";
  const ir::Graph step = ir::training_step(ir::build_model("mlp:layers=1,hidden=8,batch=2,features=4,classes=2"), sgd);
  const PeerRewrite r = measure_peer_rewrite(comm, launcher::discover_job(world.comm()), *backend, &step);
  if (world.size() > 1) {
    EXPECT_EQ(r.by_op.at(ir::op_index("adamw")), 0);
  }
}

// A topology of other devices than the job's ranks has no peer to measure with.
TEST(PeerRewrite, IsNoneOnATopologyThatIsNotTheJobs) {
  launcher::World world;
  collectives::MpiCommunicator comm(world.comm());
  std::unique_ptr<kernels::Backend> backend = kernels::make_cpu_backend();
  const PeerRewrite r = measure_peer_rewrite(comm, partitioner::flat_topology(world.size() + 1), *backend);
  EXPECT_EQ(r.any_Bps, 0);
  EXPECT_TRUE(r.by_op.empty());
}

}  // namespace
}  // namespace spmd::runtime
