// spmd run under mpirun: the partitioned run prints the single-rank run's losses, and a plan
// that does not fit the job fails on every rank with a clear message instead of hanging.
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/tools/cli.h"

namespace spmd::testing {
namespace {

const char* kGpt = "gpt:layers=1,d_model=32,heads=4,seq=8,vocab=32,batch=4";


TEST(PartitionedRun, PrintsTheSingleRankLosses) {
  std::string dir = ::testing::TempDir();
  ASSERT_EQ(run(std::string("run ") + kGpt + " --steps 4 --metrics " + dir + "one.jsonl").exit_code, 0);
  std::vector<double> one = metrics_losses(dir + "one.jsonl");
  for (const char* strategy : {"dp", "dp+megatron"}) {
    Result r = run(mpirun(4, std::string("run ") + kGpt + " --steps 4 --strategy " + strategy + " --metrics " + dir + "four.jsonl"),
                   /*raw=*/true, 120);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("partitioned: strategy " + std::string(strategy) + " on 4 ranks"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("peak memory per rank: r0 "), std::string::npos) << r.out;
    std::vector<double> four = metrics_losses(dir + "four.jsonl");
    ASSERT_EQ(four.size(), one.size());
    for (size_t i = 0; i < one.size(); ++i) EXPECT_NEAR(four[i], one[i], 1e-4 * one[i]) << strategy << " step " << i + 1;
  }
}

TEST(PartitionedRun, AMeshOfAnotherSizeFailsOnEveryRank) {
  std::string tactics = ::testing::TempDir() + "four.json";
  std::ofstream(tactics) << R"({"mesh": {"data": 4}, "tactics": [{"values": "input:tokens", "dim": 0, "axis": "data"}]})";
  Result r = run(mpirun(2, std::string("run ") + kGpt + " --steps 1 --tactics " + tactics), /*raw=*/true, 60);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 124) << "timed out: a rank hung";
  EXPECT_NE(r.err.find("spmd: error: the mesh {data: 4} has 4 devices, but 2 ranks run the job"), std::string::npos) << r.err;
}

TEST(PartitionedRun, BadTacticsFailOnEveryRankNamingTheTactic) {
  std::string tactics = ::testing::TempDir() + "bad.json";
  std::ofstream(tactics) << R"({"mesh": {"model": 2}, "tactics": [{"values": "param:*.w_in", "dim": 1, "axis": "modle"}]})";
  Result r = run(mpirun(2, std::string("run ") + kGpt + " --steps 1 --tactics " + tactics), /*raw=*/true, 60);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 124) << "timed out: a rank hung";
  EXPECT_NE(r.err.find("tactic 1 (param:*.w_in dim 1 -> modle): mesh {model: 2} has no axis 'modle'"), std::string::npos) << r.err;
}

TEST(PartitionedRun, AStrategyThatDoesNotDivideIsAClearError) {
  Result r = run(mpirun(3, std::string("run ") + kGpt + " --steps 1 --strategy megatron"), /*raw=*/true, 60);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 124);
  EXPECT_NE(r.err.find("strategy megatron: heads=4 do not split over 3 devices of axis 'model'"), std::string::npos) << r.err;
}

// Every shipped tactics file runs as it is, on as many ranks as its mesh has, and gives the
// single-rank losses.
TEST(PartitionedRun, EveryShippedTacticsExampleTrains) {
  std::string dir = ::testing::TempDir();
  ASSERT_EQ(run(std::string("run ") + kGpt + " --steps 2 --metrics " + dir + "alone.jsonl").exit_code, 0);
  std::vector<double> alone = metrics_losses(dir + "alone.jsonl");
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(SPMD_EXAMPLES_DIR) + "/tactics")) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    nlohmann::json mesh = nlohmann::json::parse(slurp(entry.path().string())).at("mesh");
    int ranks = 1;
    for (const auto& [axis, size] : mesh.items()) ranks *= size.get<int>();
    std::string metrics = dir + entry.path().stem().string() + ".jsonl";
    Result r = run(mpirun(ranks, std::string("run ") + kGpt + " --steps 2 --tactics " + entry.path().string() +
                                     " --metrics " + metrics),
                   /*raw=*/true, 120);
    ASSERT_EQ(r.exit_code, 0) << entry.path() << "\n" << r.err;
    std::vector<double> got = metrics_losses(metrics);
    ASSERT_EQ(got.size(), alone.size()) << entry.path();
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], alone[i], 1e-4 * alone[i]) << entry.path() << " step " << i + 1;
  }
  EXPECT_GE(files, 4);
}

// Collectives overlapping compute (the default) change when they run, not what they give:
// the same losses as in program order.
TEST(PartitionedRun, OverlapGivesTheLossesOfProgramOrder) {
  std::string dir = ::testing::TempDir();
  for (const char* flag : {"--overlap", "--no-overlap"}) {
    Result r = run(mpirun(2, std::string("run ") + kGpt + " --steps 3 --strategy zero " + flag + " --metrics " + dir +
                                 (flag + 2) + ".jsonl"),
                   /*raw=*/true, 120);
    ASSERT_EQ(r.exit_code, 0) << flag << "\n" << r.err;
  }
  std::vector<double> overlapped = metrics_losses(dir + "overlap.jsonl"), ordered = metrics_losses(dir + "no-overlap.jsonl");
  ASSERT_EQ(overlapped.size(), 3u);
  EXPECT_EQ(overlapped, ordered);
}

// --bucket fuses the gradients' all-reduces into buckets, says so in the header, and trains
// as without; a size that is not one is refused in one line.
TEST(PartitionedRun, GradientBucketsKeepTheLossesAndTheHeaderSaysTheirSize) {
  const std::string dir = ::testing::TempDir();
  for (const char* bucket : {"none", "64KiB"}) {
    Result r = run(mpirun(2, std::string("run ") + kGpt + " --steps 3 --strategy dp --bucket " + bucket + " --metrics " +
                                 dir + "bucket-" + bucket + ".jsonl"),
                   /*raw=*/true, 120);
    ASSERT_EQ(r.exit_code, 0) << bucket << "\n" << r.err;
    const std::string said = std::string(bucket) == "none" ? "gradient buckets: none\n" : "gradient buckets: up to 64 KiB\n";
    EXPECT_NE(r.out.find(said), std::string::npos) << r.out;
  }
  const std::vector<double> plain = metrics_losses(dir + "bucket-none.jsonl");
  const std::vector<double> bucketed = metrics_losses(dir + "bucket-64KiB.jsonl");
  ASSERT_EQ(plain.size(), 3u);
  ASSERT_EQ(bucketed.size(), 3u);
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_NEAR(bucketed[i], plain[i], 1e-4 * std::abs(plain[i])) << i;
  Result auto_chosen = run(mpirun(2, std::string("run ") + kGpt + " --steps 1 --strategy dp"), /*raw=*/true, 120);
  ASSERT_EQ(auto_chosen.exit_code, 0) << auto_chosen.err;
  EXPECT_NE(auto_chosen.out.find(" (the cost model's choice)\n"), std::string::npos) << auto_chosen.out;
  Result bad = run(std::string("run ") + kGpt + " --steps 1 --bucket lots");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--bucket 'lots' is not a size"), std::string::npos) << bad.err;
}

// --prefetch issues ZeRO's param gathers that many ahead: the header says the depth, and
// the losses are those of any other depth; a depth that is not one is refused in one line.
TEST(PartitionedRun, PrefetchDepthKeepsTheLossesAndTheHeaderSaysIt) {
  const std::string dir = ::testing::TempDir();
  for (const char* depth : {"0", "4"}) {
    Result r = run(mpirun(2, std::string("run ") + kGpt + " --steps 3 --strategy zero --prefetch " + depth +
                                 " --metrics " + dir + "prefetch-" + depth + ".jsonl"),
                   /*raw=*/true, 120);
    ASSERT_EQ(r.exit_code, 0) << depth << "\n" << r.err;
    EXPECT_NE(r.out.find(std::string("param gathers prefetched: ") + depth + " ahead\n"), std::string::npos) << r.out;
  }
  EXPECT_EQ(metrics_losses(dir + "prefetch-0.jsonl"), metrics_losses(dir + "prefetch-4.jsonl"));
  Result bad = run(std::string("run ") + kGpt + " --steps 1 --prefetch -2");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--prefetch '-2' is not a depth"), std::string::npos) << bad.err;
}

// A plan file keeps the schedule `spmd plan` costed it with, and a run of it runs that
// schedule (not tuned again), unless its flags ask for another.
TEST(PartitionedRun, APlanFilesScheduleIsTheOneThatRuns) {
  const std::string dir = ::testing::TempDir(), path = dir + "scheduled.json";
  Result planned = run(std::string("plan ") + kGpt + " --strategy zero --ranks 2 --predict --json " + path);
  ASSERT_EQ(planned.exit_code, 0) << planned.err;
  nlohmann::json plan = nlohmann::json::parse(slurp(path));
  ASSERT_TRUE(plan.contains("schedule")) << plan.dump();
  plan["schedule"] = {{"prefetch", 3}, {"bucket_bytes", 65536}, {"overlap", false}};
  std::ofstream(path) << plan.dump();
  Result r = run(mpirun(2, std::string("run ") + kGpt + " --steps 1 --plan " + path), /*raw=*/true, 120);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("param gathers prefetched: 3 ahead (the plan's)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gradient buckets: up to 64 KiB (the plan's)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("collectives: blocking, in program order (the plan's)\n"), std::string::npos) << r.out;
  Result asked = run(mpirun(2, std::string("run ") + kGpt + " --steps 1 --plan " + path + " --prefetch 0"),
                     /*raw=*/true, 120);
  ASSERT_EQ(asked.exit_code, 0) << asked.err;
  EXPECT_NE(asked.out.find("param gathers prefetched: 0 ahead\n"), std::string::npos) << asked.out;
  EXPECT_NE(asked.out.find("collectives: blocking, in program order (the plan's)\n"), std::string::npos) << asked.out;
}

TEST(PartitionedRun, ReplanningSwitchesAPoorPlanSaysWhyAndKeepsTheLosses) {
  const std::string dir = ::testing::TempDir(), tactics = dir + "poor.json";
  std::ofstream(tactics) << R"({"mesh": {"data": 2}, "rematerialize": true, "tactics": [
    {"values": "input:tokens", "dim": 0, "axis": "data"},
    {"values": "param:*", "dim": "first_divisible", "axis": "data", "scope": "optimizer"}]})";
  ASSERT_EQ(run(std::string("run ") + kGpt + " --steps 8 --metrics " + dir + "alone.jsonl").exit_code, 0);
  Result r = run(mpirun(2, std::string("run ") + kGpt + " --steps 8 --tactics " + tactics +
                               " --replan once --replan-after 4 --replan-threshold 0% --metrics " + dir + "replan.jsonl"),
                 /*raw=*/true, 120);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Each plan's first two steps warm up: steps 3-4 are the first window, 7-8 the second.
  EXPECT_NE(r.out.find("re-plan after step 4: model refitted to the measured launches: compute-bound kernels "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  running tactics " + tactics + ", mesh {data: 2}: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  switched: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("re-planned: steps 7-8 took "), std::string::npos) << r.out;
  std::vector<double> alone = metrics_losses(dir + "alone.jsonl"), replanned = metrics_losses(dir + "replan.jsonl");
  ASSERT_EQ(replanned.size(), alone.size());
  for (size_t i = 0; i < alone.size(); ++i) EXPECT_NEAR(replanned[i], alone[i], 1e-4 * alone[i]) << "step " << i + 1;
}

TEST(PartitionedRun, BadReplanningFlagsAreOneLineErrors) {
  Result r = run(std::string("run ") + kGpt + " --steps 1 --replan once --replan-threshold fast");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--replan-threshold 'fast' is neither a percentage (10%) nor a fraction (0.1)"), std::string::npos)
      << r.err;
  for (const char* threshold : {"inf%", "inf", "nan"}) {
    r = run(std::string("run ") + kGpt + " --steps 1 --replan once --replan-threshold " + threshold);
    EXPECT_EQ(r.exit_code, 2) << threshold;
    EXPECT_NE(r.err.find("is neither a percentage"), std::string::npos) << r.err;
  }
  r = run(std::string("run ") + kGpt + " --steps 1 --replan once --trace " + ::testing::TempDir() + "t.json");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("a trace follows one program"), std::string::npos) << r.err;
  r = run(std::string("run ") + kGpt + " --steps 1 --replan once --replan-after 2");  // both steps warm up
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--replan-after"), std::string::npos) << r.err;
  r = run(std::string("run ") + kGpt + " --steps 1 --replan sometimes");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--replan"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace spmd::testing
