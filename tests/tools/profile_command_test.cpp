// spmd profile under mpirun writes a profile that spmd plan and spmd run then use, saying
// which figures were measured (and where MPI's collectives were chosen by other settings);
// a profile that is not one is refused with exit 2.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include "tests/tools/cli.h"

namespace spmd::testing {
namespace {

// The kernel figures `spmd profile` says it kept (the slowest measuring rank's); all 0
// where the line is missing or does not read.
struct KeptKernels {
  double latency_us = 0, gflops = 0, gbps = 0;
};
KeptKernels kept_kernels(const std::string& out) {
  KeptKernels k;
  const size_t at = out.find("kept, the slowest measuring rank's: ");
  if (at == std::string::npos ||
      std::sscanf(out.c_str() + at,
                  "kept, the slowest measuring rank's: add 1 element %lf us, matmul %lf GFLOP/s at best, memory %lf GB/s",
                  &k.latency_us, &k.gflops, &k.gbps) != 3) {
    return {};
  }
  return k;
}

TEST(ProfileCommand, WritesAProfileThatPlanAndRunUse) {
  const std::string path = ::testing::TempDir() + "spmd_profile.json";
  std::remove(path.c_str());
  Result r = run(mpirun(2, "profile --max-bytes 64KiB --out " + path), true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "fit: latency ")) << r.out;
  EXPECT_TRUE(contains(r.out, "busbw (GB/s)")) << r.out;
  EXPECT_TRUE(contains(r.out, "sync wait: ")) << r.out;
  const nlohmann::json j = nlohmann::json::parse(slurp(path));
  EXPECT_GT(j.at("matmul_flops").get<double>(), 0);
  EXPECT_GT(j.at("op_latency_s").get<double>(), 0);
  EXPECT_GT(j.at("handoff_s").get<double>(), 0);
  // The kernel figures kept are the slowest rank's: a step waits for it.
  const KeptKernels kept = kept_kernels(r.out);
  ASSERT_GT(kept.latency_us, 0) << r.out;
  if (!contains(r.out, "each gets ")) {  // ranks on cores of their own: the figures as kept
    EXPECT_NEAR(j.at("op_latency_s").get<double>() * 1e6, kept.latency_us, 0.001 + 1e-3 * kept.latency_us);
    EXPECT_NEAR(j.at("matmul_flops").get<double>() / 1e9, kept.gflops, 0.05 + 1e-3 * kept.gflops);
    EXPECT_NEAR(j.at("memory_Bps").get<double>() / 1e9, kept.gbps, 0.05 + 1e-3 * kept.gbps);
  }
  ASSERT_EQ(j.at("memory_by_size").size(), 4u);  // 16 KiB to 64 MiB an operand
  EXPECT_EQ(j.at("memory_by_size").back().at("bytes_per_s").get<double>(), j.at("memory_Bps").get<double>());
  EXPECT_GE(j.at("sync_wait_fraction").get<double>(), 0);
  // Collectives timed after other writes over the caches, at each size up to the largest.
  EXPECT_TRUE(contains(r.out, "of other writes a rank (4x a core's cache)")) << r.out;
  ASSERT_EQ(j.at("collective_cold_s").size(), 2u);  // 4 and 32 KiB
  EXPECT_EQ(j.at("collective_cold_s")[1].at("bytes").get<double>(), 32768);
  EXPECT_GE(j.at("collective_cold_s")[1].at("seconds").get<double>(), 0);
  ASSERT_EQ(j.at("levels").size(), 1u);  // the two ranks of one node
  // Every algorithm of the five primitives, MPI's own included, fitted on that level.
  std::set<std::string> fitted;
  for (const auto& a : j.at("levels")[0].at("algorithms")) {
    const bool first_band = fitted.insert(a.at("primitive").get<std::string>() + " " + a.at("algorithm").get<std::string>()).second;
    if (first_band) {
      EXPECT_GE(a.at("alpha_s").get<double>(), 0);  // a later band's may be negative (cost_fit.h)
    }
    EXPECT_GE(a.at("beta_s_per_byte").get<double>(), 0);
  }
  EXPECT_EQ(fitted.size(), 26u);
  EXPECT_TRUE(fitted.count("all_reduce shared_memory")) << r.out;
  EXPECT_TRUE(fitted.count("all_reduce native")) << r.out;
  EXPECT_TRUE(fitted.count("broadcast pipelined_chain")) << r.out;
  EXPECT_TRUE(fitted.count("all_to_all pairwise")) << r.out;
  EXPECT_TRUE(fitted.count("all_to_all scattered")) << r.out;
  EXPECT_TRUE(fitted.count("all_gather scattered")) << r.out;
  EXPECT_TRUE(fitted.count("reduce_scatter scattered")) << r.out;
  EXPECT_TRUE(fitted.count("broadcast scattered")) << r.out;
  EXPECT_TRUE(fitted.count("all_reduce scattered")) << r.out;
  EXPECT_TRUE(contains(r.out, "pairwise                   fit: alpha ")) << r.out;

  Result measured = run(mpirun(2, "collective allreduce --bytes 16KiB --profile " + path), true);
  ASSERT_EQ(measured.exit_code, 0) << measured.err;
  EXPECT_TRUE(contains(measured.out, "collective algorithms with their own fitted figures")) << measured.out;
  EXPECT_TRUE(contains(measured.out, "   measured    error  ")) << measured.out;

  Result plan = run(mpirun(2, "plan mlp --auto --predict --profile " + path), true);
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_TRUE(contains(plan.out, "profile: level node: ")) << plan.out;
  EXPECT_TRUE(contains(plan.out, "profile: device: matmul ")) << plan.out;
  Result train = run(mpirun(2, "run mlp --steps 2 --profile " + path), true);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_TRUE(contains(train.out, "profile: level node: ")) << train.out;
  EXPECT_TRUE(contains(train.out, "longer in a step than lined up")) << train.out;
  EXPECT_FALSE(contains(train.out, "under other settings")) << train.out;
  // MPI's own collectives were timed under the settings that chose them (Open MPI's coll
  // priorities): a run under others is told which.
  ASSERT_TRUE(j.contains("mpi_collectives")) << "Open MPI's settings recorded";
  const std::string han = j.at("mpi_collectives").value("coll_han_priority", "") == "100" ? "99" : "100";
  std::string under_han = mpirun(2, "run mlp --steps 1 --profile " + path);
  under_han.insert(under_han.find(" -np "), " --mca coll_han_priority " + han);
  Result other = run(under_han, true);
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_TRUE(contains(other.out, "MPI's own collectives were timed under other settings (coll_han_priority '" + han +
                                      "' here")) << other.out;
}

// Three ranks, whose sizes do not split evenly (4 KiB is 1,024 floats): every collective is
// timed all the same, an all-to-all on a whole block per rank; ranks oversubscribed on the
// cores take turns, which the kernels' rates hold, so the sync wait is not measured again.
TEST(ProfileCommand, ThreeRanksAreProfiledToo) {
  const std::string path = ::testing::TempDir() + "spmd_profile_np3.json";
  std::remove(path.c_str());
  Result r = run(mpirun(3, "profile --max-bytes 16KiB --out " + path), true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "all_to_all over 3 ranks")) << r.out;
  EXPECT_TRUE(contains(r.out, "sync wait: ")) << r.out;
  const nlohmann::json j = nlohmann::json::parse(slurp(path));
  EXPECT_GE(j.at("sync_wait_fraction").get<double>(), 0);
  // Where the ranks share PUs (3 on this machine's 2 cores), each pays the fixed cost of a
  // kernel it measured alone over its share: the profile's figure is the shared one, of
  // the slowest rank that measured (rank 0's is printed first).
  double first_us = 0, share = 1, paid_us = 0;
  const size_t first = r.out.find("add 1 element");
  ASSERT_NE(first, std::string::npos) << r.out;
  ASSERT_EQ(std::sscanf(r.out.c_str() + first, "add 1 element %lf us", &first_us), 1) << r.out;
  const double alone_us = kept_kernels(r.out).latency_us;
  ASSERT_GT(alone_us, 0) << r.out;
  EXPECT_GE(alone_us, first_us - 0.001) << r.out;
  const size_t shared = r.out.find("each gets ");
  if (shared != std::string::npos) {
    ASSERT_EQ(std::sscanf(r.out.c_str() + shared, "each gets %lf of these rates, and pays %lf us a kernel", &share, &paid_us), 2)
        << r.out;
    EXPECT_NEAR(paid_us, alone_us / share, 0.01 * paid_us + 0.002) << r.out;  // the share printed to 2 places
  }
  EXPECT_NEAR(j.at("op_latency_s").get<double>() * 1e6, alone_us / share, 0.01 * alone_us / share + 0.002) << r.out;
  // Ranks taking turns time MPI's own collectives in a step against ours, every primitive.
  if (shared != std::string::npos) {
    EXPECT_TRUE(contains(r.out, "MPI's own in a step, the ranks taking turns")) << r.out;
    for (const char* primitive : {"all_reduce", "reduce_scatter", "all_gather", "broadcast", "all_to_all"}) {
      const nlohmann::json& by_size = j.at("native_in_turns").at(primitive);  // a ratio at each size timed
      ASSERT_TRUE(by_size.is_array() && !by_size.empty()) << primitive;
      for (const nlohmann::json& point : by_size) {
        EXPECT_GT(point.at("bytes").get<double>(), 0) << primitive;
        EXPECT_GT(point.at("ratio").get<double>(), 0) << primitive;
      }
    }
    // ... and what the turns leave each rank of its share, which a job of these ranks then
    // takes from the profile rather than measuring it at start.
    EXPECT_NEAR(j.at("turns").at("share").get<double>(), share, 0.01) << r.out;
    ASSERT_EQ(j.at("turns").at("by_stretch").size(), 4u) << r.out;
    ASSERT_EQ(j.at("turns").at("by_stretch_filled").size(), 4u) << r.out;
    EXPECT_TRUE(contains(r.out, "the median of 5 rounds")) << r.out;
    Result train = run(mpirun(3, "run mlp:batch=48 --steps 1 --profile " + path), true);
    ASSERT_EQ(train.exit_code, 0) << train.err;
    EXPECT_TRUE(contains(train.out, "profile: turns: ranks sharing PUs keep ")) << train.out;
    EXPECT_TRUE(contains(train.out, "turns on the shared PUs as the profile measured them")) << train.out;
  }
}

// A rank alone plans on no topology, yet its own profile is of this very job.
TEST(ProfileCommand, ARankAlonesProfileIsOfItsOwnJob) {
  const std::string path = ::testing::TempDir() + "spmd_profile_np1.json";
  std::remove(path.c_str());
  Result r = run("profile --max-bytes 16KiB --out " + path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Result train = run("run mlp --steps 1 --profile " + path);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_TRUE(contains(train.out, "profile: device: matmul ")) << train.out;
  EXPECT_FALSE(contains(train.out, "another topology")) << train.out;
}

// One size fits no line, and 64 GiB would take the machine's memory: both refused before
// anything is measured, and the profile already there is kept.
TEST(ProfileCommand, ALargestMessageOutsideItsRangeIsRefusedAndTheOldProfileKept) {
  const std::string path = ::testing::TempDir() + "kept_profile.json";
  std::ofstream(path) << "a profile";
  for (const char* size : {"8KiB", "64GiB"}) {
    Result r = run(mpirun(2, std::string("profile --max-bytes ") + size + " --out " + path), true);
    EXPECT_EQ(r.exit_code, 2) << size << r.err;
    EXPECT_TRUE(contains(r.err, "spmd: error: the largest message to time, ")) << r.err;
    EXPECT_TRUE(contains(r.err, "is not from 16 KiB (two sizes to fit a line through) to 1 GiB")) << r.err;
  }
  EXPECT_EQ(slurp(path), "a profile");
}

TEST(ProfileCommand, AFileThatIsNoProfileIsRefused) {
  const std::string path = ::testing::TempDir() + "not_a_profile.json";
  std::ofstream(path) << "{\"fingerprint\": \"x\"}";
  Result r = run("run mlp --steps 1 --profile " + path);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "'matmul_flops' is missing or not a number")) << r.err;
}

}  // namespace
}  // namespace spmd::testing
