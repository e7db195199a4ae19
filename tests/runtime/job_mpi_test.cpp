// runtime::Job over the ranks of mpirun: a graph built in code, fed by the program's own
// callback, gives on every rank count the losses and parameters of the same job run alone
// (a Job bound to no world, in the same process), and the default plan really splits the
// batch over the ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <vector>

#include "collectives/mpi/mpi_communicator.h"
#include "kernels/backend.h"
#include "launcher/mpi_wait.h"
#include "partitioner/device_model.h"
#include "runtime/job.h"
#include "runtime/profile_run.h"
#include "tests/runtime/regression_job.h"

namespace spmd::runtime {
namespace {

ir::Graph two_layer(int64_t batch) { return testing::two_layer(batch, 6, 10, 0.4); }

const FillFeeds fill = testing::regression_data(6);

struct Outcome {
  std::vector<double> losses;
  std::vector<float> enc;
};

JobDescription description(int64_t batch) { return testing::regression_job(batch, 6, 10, 0.4); }

Outcome train(const launcher::World* world, int64_t batch) {
  Job job(description(batch));
  job.bind({world});
  Outcome r;
  job.train(4, [&](const StepReport& s) { r.losses.push_back(s.loss); });
  r.enc = job.value("enc");
  return r;
}

TEST(JobOverRanks, EqualsTheSameJobRunAlone) {
  launcher::World world;
  const int64_t batch = 12 * world.size();  // every rank holds 12 rows
  Outcome alone = train(nullptr, batch);
  Outcome together = train(&world, batch);
  ASSERT_EQ(alone.losses.size(), together.losses.size());
  for (size_t i = 0; i < alone.losses.size(); ++i) {
    EXPECT_NEAR(together.losses[i], alone.losses[i], 1e-4 * std::max(1.0, std::abs(alone.losses[i]))) << i;
  }
  ASSERT_EQ(alone.enc.size(), together.enc.size());
  for (size_t i = 0; i < alone.enc.size(); ++i) EXPECT_NEAR(together.enc[i], alone.enc[i], 1e-5) << i;
}

// A collective over mesh axes of one device each would move nothing between ranks, so
// there is none: on one rank ZeRO runs the replicated step; on several every collective
// goes across.
TEST(JobOverRanks, OnlyCollectivesBetweenRanksAreRun) {
  launcher::World world;
  JobDescription d = description(6 * world.size());
  d.partitioning.strategy = "zero";
  Job job(std::move(d));
  job.bind({&world});
  ASSERT_TRUE(job.partitioned());
  const int collectives = static_cast<int>(job.program().collectives.size());
  EXPECT_EQ(collectives > 0, world.size() > 1);
  EXPECT_EQ(job.trainer().executor().collectives_across_ranks(), collectives);
  std::vector<double> losses;
  job.train(2, [&](const StepReport& s) { losses.push_back(s.loss); });
  EXPECT_EQ(losses.size(), 2u);
}

// The first value the memory plan puts in the arena whose buffer a collective moves (or,
// `moved` false, does not), in this rank's memory.
std::span<const float> first_arena_value(const Executor& ex, bool moved) {
  const ProgramMemory& m = ex.memory();
  for (ir::ValueId v = 0; v < ex.graph().size(); ++v) {
    if (m.buffer_of(v) != v || m.owned[v] || m.moved[v] != moved || ex.graph().type(v).bytes() == 0) continue;
    const kernels::TensorRef t = ex.value(v);
    return {static_cast<const float*>(t.data), static_cast<size_t>(ex.graph().type(v).bytes() / sizeof(float))};
  }
  return {};
}

// On the host with ranks to talk to, the buffers collectives move (gradients among them)
// lie in node-shared memory, where every rank reaches its peers' buffers, and the others
// (activations) in private memory on huge pages; SPMD_PRIVATE_ARENA=1 keeps them all
// private, and then no rank reaches a peer's.
TEST(JobOverRanks, TheBuffersCollectivesMoveLieInNodeSharedMemoryTheRestPrivate) {
  launcher::World world;
  if (world.size() == 1) GTEST_SKIP() << "one rank: no peers, the arena is private";
  auto comm = collectives::MpiCommunicator::world();
  for (const bool private_arena : {false, true}) {
    if (private_arena) setenv("SPMD_PRIVATE_ARENA", "1", 1);
    Job job(description(6 * world.size()));
    job.bind({&world});
    const std::span<const float> moved = first_arena_value(job.trainer().executor(), true);
    const std::span<const float> kept = first_arena_value(job.trainer().executor(), false);
    ASSERT_FALSE(moved.empty());
    ASSERT_FALSE(kept.empty());
    const std::span<const float> one[] = {moved}, other[] = {kept};
    EXPECT_EQ(comm->peer_addresses(one).size(), private_arena ? 0u : static_cast<size_t>(world.size()))
        << (private_arena ? "private arena" : "node-shared arena");
    EXPECT_EQ(comm->peer_addresses(other).size(), 0u) << "an activation no collective moves";
    comm->barrier();
    int steps = 0;
    job.train(2, [&](const StepReport& r) { steps += std::isfinite(r.loss) ? 1 : 0; });
    EXPECT_EQ(steps, 2) << (private_arena ? "private arena" : "node-shared arena");
  }
  unsetenv("SPMD_PRIVATE_ARENA");
}

TEST(JobOverRanks, DefaultPlanOnSeveralRanksIsTheSearchsAndEveryRankAgrees) {
  launcher::World world;
  JobDescription d;
  d.program.graph = two_layer(6 * world.size());
  d.data = fill;
  {
    // Planned with the kernels rank 0 measured at bind: every rank has the same plan.
    Job measured(d);
    measured.bind({&world});
    const uint64_t hash = std::hash<std::string>{}(partitioner::to_json(measured.plan(), measured.training_step()).dump());
    for (uint64_t h : world.all_gather(hash)) EXPECT_EQ(h, hash);
    if (world.size() > 1) {
      // Its links measured too, rank 0's figures on every rank.
      EXPECT_NE(measured.device_note().find("links "), std::string::npos) << measured.device_note();
      for (const launcher::Level& level : measured.topology()->levels()) {
        EXPECT_GT(level.link.bandwidth_Bps, 0) << level.name;
        const uint64_t latency = std::bit_cast<uint64_t>(level.link.latency_s);
        for (uint64_t l : world.all_gather(latency)) EXPECT_EQ(l, latency) << level.name;
      }
    }
  }
  Job job(std::move(d));
  JobBinding binding(&world);
  binding.calibrate = false;  // the device table's figures, as choose_plan's below
  job.bind(binding);
  EXPECT_EQ(job.partitioned(), world.size() > 1);
  EXPECT_EQ(job.plan().mesh.size(), world.size());
  EXPECT_EQ(job.peak_bytes_per_rank().size(), static_cast<size_t>(world.size()));
  if (world.size() == 1) return;
  // The same plan as an explicit --auto on the same topology, and the same on every rank.
  partitioner::PlanRequest automatic;
  automatic.automatic = true;
  const partitioner::Plan searched =
      partitioner::choose_plan(automatic, job.training_step(), world.size(), job.topology());
  EXPECT_EQ(partitioner::to_json(searched, job.training_step()).dump(),
            partitioner::to_json(job.plan(), job.training_step()).dump());
  const uint64_t hash = std::hash<std::string>{}(partitioner::to_json(job.plan(), job.training_step()).dump());
  for (uint64_t h : world.all_gather(hash)) EXPECT_EQ(h, hash);
}

// Feeding the batch and checking that the values are finite are each rank's own compute:
// where ranks take turns on shared PUs a step holds every partner's, so the prediction
// counts them at the rank's share (on 4 ranks over 2 cores the feed alone was 8% of mlp's
// step); where each rank has PUs of its own, as timed. The agreement after the check is a
// collective, counted once as timed.
TEST(JobOverRanks, TheFeedAndTheFiniteCheckCostTheRanksShareOfTheirPus) {
  launcher::World world;
  Job job(description(6 * world.size()));
  job.bind({&world});
  const double timed = job.feed_seconds() + job.finite_check_seconds();
  ASSERT_GT(job.finite_check_seconds(), 0);
  const double agreement = job.agreement_seconds();
  if (world.size() > 1) {
    EXPECT_GT(agreement, 0);
  } else {
    EXPECT_EQ(agreement, 0);
  }
  const launcher::Topology* t = job.topology();  // none where the job runs unpartitioned
  const double share = t ? partitioner::cpu_share(*t, t->devices().front(), kernels::cpu_threads()) : 1.0;
  if (share < 1) {
    EXPECT_NEAR(job.outside_program_seconds(), timed / share + agreement, 1e-12) << "share " << share;
  } else {
    EXPECT_DOUBLE_EQ(job.outside_program_seconds(), timed + agreement);
  }
  EXPECT_GT(job.predicted_step_time_s(), job.outside_program_seconds());
}

// The finite check's time is the rank's pass over its params: the one-word all-gather that
// agrees on it is a collective, not the rank's compute. Where ranks take turns on PUs that
// all-gather lined up took 47-61 us (4 ranks over 2 cores), and counted with the pass at the
// share it put into mlp's predicted step 100 us that no step spent.
TEST(JobOverRanks, TheFiniteCheckIsTimedWithoutTheAgreementAfterIt) {
  launcher::World world;
  Job job(description(6 * world.size()));
  job.bind({&world});
  const launcher::Topology* t = job.topology();
  if (!t || !(partitioner::cpu_share(*t, t->devices().front(), kernels::cpu_threads()) < 1)) return;
  std::vector<double> lined_up;
  for (int i = 0; i < 9; ++i) {
    const auto start = std::chrono::steady_clock::now();
    world.all_gather(uint64_t{0});
    lined_up.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(lined_up.begin(), lined_up.end());
  EXPECT_LT(job.finite_check_seconds(), lined_up[4]) << "the pass over 2 params of a tiny model, against the agreement";
}

// Whether every rank of the job has PUs of its own: no two CPU ranks of a node on one cpuset.
bool every_rank_has_its_pus(const launcher::Topology* t, int ranks) {
  if (!t || ranks < 2) return false;
  const std::vector<launcher::Device>& d = t->devices();
  for (size_t i = 0; i < d.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (d[i].kind != launcher::DeviceKind::gpu && d[i].node == d[j].node && d[i].cpuset == d[j].cpuset) return false;
    }
  }
  return true;
}

// A rank polls while it waits for its peers (a sleeping one wakes late) only where every
// rank has PUs of its own: where ranks share them, the core it would poll on is a partner's.
// Bound after a thread that waited either way, the job sets it anew.
TEST(JobOverRanks, PollsWhileItWaitsOnlyWhereEveryRankHasPusOfItsOwn) {
  launcher::World world;
  for (launcher::IdleWait before : {launcher::IdleWait::poll, launcher::IdleWait::back_off}) {
    launcher::set_idle_wait(before);
    Job job(description(6 * world.size()));
    job.bind({&world});
    const bool own = every_rank_has_its_pus(job.topology(), world.size());
    EXPECT_EQ(launcher::idle_wait(), own ? launcher::IdleWait::poll : launcher::IdleWait::back_off)
        << world.size() << " ranks, PUs of their own: " << own;
    // What spmd profile and bench_collectives wait under, the same.
    if (job.topology()) {
      EXPECT_EQ(idle_wait_for(*job.topology(), world.size()), launcher::idle_wait());
    }
  }
  launcher::set_idle_wait(launcher::IdleWait::back_off);
}

TEST(JobOverRanks, ResumesACheckpointSavedByAJobAlone) {
  launcher::World world;
  const int64_t batch = 12;  // divides over 1 to 4 ranks
  const std::string dir = ::testing::TempDir() + "job_checkpoint.np" + std::to_string(world.size());
  Job straight(description(batch));
  straight.bind();
  std::vector<double> losses;
  straight.train(6, [&](const StepReport& s) { losses.push_back(s.loss); });
  if (world.lead()) {
    std::filesystem::remove_all(dir);
    Job first(description(batch));
    first.bind();
    first.train(3);
    EXPECT_EQ(first.save(dir), dir + "/step-00000003");
  }
  MPI_Barrier(world.comm());
  JobDescription d = description(batch);
  d.resume = dir;
  Job resumed(std::move(d));
  resumed.bind({&world});
  ASSERT_TRUE(resumed.resumed());
  EXPECT_EQ(resumed.resumed()->step, 3);
  std::vector<double> after;
  resumed.train(3, [&](const StepReport& s) {
    after.push_back(s.loss);
    EXPECT_EQ(s.step, 3 + static_cast<int64_t>(after.size()));
  });
  ASSERT_EQ(after.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(after[i], losses[3 + i], 1e-4 * std::max(1.0, std::abs(losses[3 + i]))) << i;
  std::vector<float> enc = resumed.value("enc"), expected = straight.value("enc");
  ASSERT_EQ(enc.size(), expected.size());
  for (size_t i = 0; i < enc.size(); ++i) EXPECT_NEAR(enc[i], expected[i], 1e-5) << i;
}

}  // namespace
}  // namespace spmd::runtime
