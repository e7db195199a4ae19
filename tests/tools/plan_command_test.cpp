// spmd plan end to end: what it prints, the plan file it writes and how spmd run takes it.
#include <cctype>
#include <cstdio>
#include <regex>
#include <string>
#include <vector>

#include "tests/tools/cli.h"

namespace spmd::testing {
namespace {

const char* kSmallGpt = "gpt:layers=1,d_model=32,heads=2,seq=16,vocab=64,batch=2";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The first line that starts with `prefix` (after the indentation), or "".
std::string line_starting(const std::string& text, const std::string& prefix) {
  for (const std::string& line : lines_of(text)) {
    size_t start = line.find_first_not_of(' ');
    if (start != std::string::npos && line.compare(start, prefix.size(), prefix) == 0) return line;
  }
  return "";
}


TEST(PlanCommand, MegatronShowsMeshShardingsCollectivesAndMemory) {
  Result r = run(std::string("plan ") + kSmallGpt + " --strategy megatron --ranks 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "mesh {model: 2}: 2 devices; plan from strategy megatron")) << r.out;
  // The MLP column- then row-parallel, with the devices holding each block.
  std::string w_in = line_starting(r.out, "%layer0.mlp.w_in ");
  EXPECT_TRUE(std::regex_search(w_in, std::regex(R"(\[32,128\] +\[-, model\] +\[32,64\] +\[0\|1\] +tactic)"))) << w_in;
  std::string w_out = line_starting(r.out, "%layer0.mlp.w_out ");
  EXPECT_TRUE(contains(w_out, "[model, -]")) << w_out;
  EXPECT_TRUE(contains(w_out, "[0][1]")) << w_out;
  std::string wte = line_starting(r.out, "%wte ");
  EXPECT_TRUE(contains(wte, "[-, -]")) << wte;
  EXPECT_TRUE(contains(wte, "[0,1]")) << wte;
  // The collectives: the row-parallel matmuls leave partial sums.
  EXPECT_TRUE(contains(r.out, "collectives of one step (")) << r.out;
  EXPECT_TRUE(contains(r.out, "partial(model) -> [-, -, -]  all-reduce along model")) << r.out;
  EXPECT_TRUE(contains(r.out, " KiB\n")) << r.out;
  // The summary.
  EXPECT_TRUE(contains(line_starting(r.out, "communication per step:"), "collectives moving")) << r.out;
  EXPECT_TRUE(contains(line_starting(r.out, "memory (planned): params"), "optimizer state")) << r.out;
  EXPECT_TRUE(contains(line_starting(r.out, "activations arena"), "KiB")) << r.out;
  EXPECT_TRUE(contains(line_starting(r.out, "peak"), "KiB")) << r.out;
}

TEST(PlanCommand, ExplainGivesEveryCollectiveAReason) {
  Result r = run("plan gpt:layers=2,d_model=32,heads=2,seq=16,vocab=64,batch=4 --strategy dp+megatron --ranks 4 --explain");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int collectives = 0, reasons = 0;
  bool in_table = false;
  for (const std::string& line : lines_of(r.out)) {
    if (line.rfind("collectives of one step", 0) == 0) in_table = true;
    if (line.rfind("summary", 0) == 0) in_table = false;
    if (!in_table) continue;
    if (line.size() > 2 && line.rfind("  ", 0) == 0 && std::isdigit(static_cast<unsigned char>(line[2]))) ++collectives;
    if (line.rfind("      why: ", 0) == 0) {
      ++reasons;
      std::string why = line.substr(11);
      EXPECT_FALSE(why.empty() || contains(why, "no reason recorded")) << line;
    }
  }
  EXPECT_GT(collectives, 0) << r.out;
  EXPECT_EQ(collectives, reasons) << r.out;
  EXPECT_TRUE(contains(r.out, "every collective has a recorded reason")) << r.out;
  EXPECT_TRUE(contains(r.out, "all-reduce along data")) << r.out;
  EXPECT_TRUE(contains(r.out, "all-reduce along model")) << r.out;
}

TEST(PlanCommand, ZeroShardsParamsOverData) {
  Result r = run(std::string("plan ") + kSmallGpt + " --strategy zero --ranks 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string w_in = line_starting(r.out, "%layer0.mlp.w_in ");
  EXPECT_TRUE(contains(w_in, "[data, -]")) << w_in;
  EXPECT_TRUE(contains(w_in, "[0][1]")) << w_in;
  EXPECT_TRUE(contains(r.out, "all-gather along data")) << r.out;
}

// A tactics file that asks for recomputation: the plan says how much is recomputed, and the
// ZeRO gathers repeated for backward say why; its JSON keeps the choice.
TEST(PlanCommand, RecomputationIsShownAndKeptInThePlanFile) {
  std::string path = ::testing::TempDir() + "plan_recompute.json";
  std::string tactics = std::string(SPMD_EXAMPLES_DIR) + "/tactics/zero_recompute.json";
  Result r = run(std::string("plan ") + kSmallGpt + " --tactics " + tactics + " --ranks 4 --explain --json " + path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "recomputation: ")) << r.out;
  EXPECT_TRUE(contains(r.out, "ops run again in backward")) << r.out;
  EXPECT_TRUE(contains(r.out, "recomputed for backward: ")) << r.out;
  EXPECT_TRUE(contains(slurp(path), "\"rematerialize\": true")) << slurp(path);
}

TEST(PlanCommand, OneDeviceWithoutRanksOutsideMpirun) {
  Result r = run(std::string("plan ") + kSmallGpt);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "mesh {data: 1}: 1 device; every value replicated on one device")) << r.out;
  EXPECT_TRUE(contains(r.out, "collectives of one step (0)")) << r.out;
}

TEST(PlanCommand, JsonPlanIsAcceptedBySpmdRun) {
  std::string path = ::testing::TempDir() + "plan_one_rank.json";
  std::remove(path.c_str());
  Result r = run(std::string("plan ") + kSmallGpt + " --ranks 1 --json " + path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "plan written to " + path)) << r.out;
  Result trained = run(std::string("run ") + kSmallGpt + " --plan " + path + " --steps 2");
  EXPECT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_TRUE(contains(trained.out, "step     2  loss")) << trained.out;
}

TEST(PlanCommand, ShowsAPlanFileAsWritten) {
  std::string path = ::testing::TempDir() + "plan_zero.json";
  ASSERT_EQ(run(std::string("plan ") + kSmallGpt + " --strategy zero --ranks 2 --json " + path).exit_code, 0);
  Result r = run(std::string("plan ") + kSmallGpt + " --plan " + path + " --ranks 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "mesh {data: 2}: 2 devices; plan from file " + path)) << r.out;
  EXPECT_TRUE(contains(line_starting(r.out, "%layer0.mlp.w_in "), "[data, -]")) << r.out;
}

TEST(PlanCommand, PlanForAnotherModelIsRefusedNamingBoth) {
  std::string path = ::testing::TempDir() + "plan_other_model.json";
  ASSERT_EQ(run(std::string("plan ") + kSmallGpt + " --ranks 1 --json " + path).exit_code, 0);
  Result r = run("run mlp:hidden=16 --plan " + path + " --steps 2");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "gpt:batch=2,d_model=32")) << r.err;
  EXPECT_TRUE(contains(r.err, "mlp:")) << r.err;
}

TEST(PlanCommand, MegatronOnRanksThatDoNotDivideTheHeadsFails) {
  // gpt's 4 heads of 64 (d_model 256) do not split over 3 devices.
  Result r = run("plan gpt --strategy megatron --ranks 3");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(contains(r.err, "spmd: error: strategy megatron: heads=4 do not split over 3 devices of axis 'model'")) << r.err;
}

TEST(PlanCommand, UnwritableJsonFails) {
  Result r = run(std::string("plan ") + kSmallGpt + " --ranks 1 --json /nonexistent/dir/plan.json");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "cannot write plan file '/nonexistent/dir/plan.json'")) << r.err;
}

TEST(PlanCommand, UnderMpirunRankZeroPrintsOnce) {
  Result r = run(std::string(MPIEXEC) + " --oversubscribe --allow-run-as-root -np 2 " + SPMD_BINARY + " plan " +
                     kSmallGpt + " --strategy megatron",
                 /*raw=*/true, 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "mesh {model: 2}: 2 devices")) << r.out;
  EXPECT_EQ(r.out.find("spmd plan"), r.out.rfind("spmd plan")) << r.out;
}

TEST(PlanCommand, UnderMpirunEveryRankFailsAlike) {
  Result r = run(std::string(MPIEXEC) + " --oversubscribe --allow-run-as-root -np 3 " + SPMD_BINARY +
                     " plan gpt --strategy megatron",
                 /*raw=*/true, 60);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 124) << "timed out: a rank hung";
  EXPECT_TRUE(contains(r.err, "strategy megatron: heads=4 do not split over 3 devices")) << r.err;
}

}  // namespace
}  // namespace spmd::testing

namespace spmd::testing {
namespace {

TEST(PlanCommand, OnATopologyPlacesTheAxesAndCostsTheCollectives) {
  Result r = run(std::string("plan gpt:batch=64 --strategy dp+megatron --topology ") + SPMD_TOPOLOGIES_DIR +
                 "/nvidiaDGX2.xml --nodes 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The model axis as wide as the 4 heads allow, leaving a data axis.
  EXPECT_NE(r.out.find("mesh {data: 8, model: 4}: 32 devices"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("placement on 2 nodes, 32 devices (gpu)"), std::string::npos) << r.out;
  // The fastest-varying axis stays inside a package's NVSwitch; data spans the network.
  EXPECT_NE(r.out.find("model       4 devices  package (nvswitch"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("data        8 devices  cluster (network"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("predicted communication per step: "), std::string::npos) << r.out;
}

}  // namespace
}  // namespace spmd::testing

namespace spmd::testing {
namespace {

TEST(PlanCommand, AutoPrintsTheChoiceTheRunnerUpAndTheBaselinesAndWritesThePrediction) {
  std::string path = ::testing::TempDir() + "plan_auto.json";
  std::remove(path.c_str());
  Result r = run(std::string("plan ") + kSmallGpt + " --auto --ranks 2 --json " + path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "search (exhaustive): ")) << r.out;
  for (const char* row : {"  chosen ", "  next best ", "  baseline   dp ", "  baseline   zero ", "why: "}) {
    EXPECT_TRUE(contains(r.out, row)) << row << "\n" << r.out;
  }
  // The winner is costed with the schedule a job runs it with, and says it.
  const std::string chosen = r.out.substr(r.out.find("  chosen "));
  const std::string row = chosen.substr(0, chosen.find('\n'));
  EXPECT_TRUE(contains(row, " ahead, ") || contains(row, "no param gathers, ")) << r.out;
  std::string plan = slurp(path);
  EXPECT_TRUE(contains(plan, "\"predicted\"") && contains(plan, "\"peak_bytes\"")) << plan;
  EXPECT_TRUE(contains(plan, "\"schedule\"") && contains(plan, "\"bucket_bytes\"")) << plan;
  EXPECT_TRUE(contains(plan, "\"levels\"")) << plan;
}

TEST(PlanCommand, PredictPrintsStepTimeExposedCommunicationAndPeak) {
  Result r = run(std::string("plan ") + kSmallGpt + " --strategy dp --ranks 2 --predict");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "exposed communication")) << r.out;
  EXPECT_TRUE(contains(r.out, "peak memory ")) << r.out;
  // The schedule it is costed with: data parallelism has no param to gather, ZeRO has.
  EXPECT_TRUE(contains(r.out, ", no param gathers, ")) << r.out;
  Result zero = run(std::string("plan ") + kSmallGpt + " --strategy zero --ranks 2 --predict");
  ASSERT_EQ(zero.exit_code, 0) << zero.err;
  EXPECT_TRUE(contains(zero.out, " ahead, ") || contains(zero.out, ", gathers at first use, ")) << zero.out;
}

// The why section gives one line per plan the winner beats, and for a baseline that does
// not lower (dp over more ranks than the batch has rows) its reason.
TEST(PlanCommand, AutoSaysWhyTheWinnerBeatsEachPlanOnItsOwnLine) {
  Result r = run(std::string("plan ") + kSmallGpt + " --auto --ranks 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string why = r.out.substr(r.out.find("why: "));
  EXPECT_TRUE(contains(why, "\n  dp does not lower: tactic 1 (input:tokens dim 0 -> data): axis 'data' of size 4 cannot split"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "does not lower (below)")) << r.out;
  EXPECT_TRUE(contains(why, "\n  dp+megatron model=2 is ")) << r.out;
}

TEST(PlanCommand, AutoWhereNoPlanFitsExitsTwoNamingTheSmallest) {
  Result r = run(std::string("plan ") + kSmallGpt + " --auto --ranks 2 --memory-limit 1KiB");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "no plan fits 1 KiB per device: the smallest peak is ")) << r.err;
  Result bad = run(std::string("plan ") + kSmallGpt + " --auto --ranks 2 --memory-limit lots");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(contains(bad.err, "--memory-limit 'lots' is not a size")) << bad.err;
}

TEST(PlanCommand, BudgetTakesSimulationsOrSeconds) {
  Result seconds = run(std::string("plan ") + kSmallGpt + " --auto --ranks 4 --budget 0.5s");
  EXPECT_EQ(seconds.exit_code, 0) << seconds.err;
  Result simulations = run(std::string("plan ") + kSmallGpt + " --auto --ranks 4 --budget 3");
  EXPECT_EQ(simulations.exit_code, 0) << simulations.err;
  for (const char* bad : {"soon", "0", "-2s", "1.5", "nans"}) {
    Result r = run(std::string("plan ") + kSmallGpt + " --auto --ranks 4 --budget " + bad);
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_TRUE(contains(r.err, "is neither a number of simulations (200) nor seconds (30s)")) << bad << ": " << r.err;
  }
}

// Without a partitioning flag several ranks run the search's plan; a budget in seconds is
// refused there (the ranks could stop at different plans), a number of simulations is not.
TEST(RunCommand, SeveralRanksSearchByDefaultWithTheSearchFlagsOfPlan) {
  Result r = run(mpirun(2, std::string("run ") + kSmallGpt + " --steps 2 --budget 20 --memory-limit 1GiB"), true);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "partitioned: the search (auto, the default on several devices) on 2 ranks")) << r.out;
  Result timed = run(mpirun(2, std::string("run ") + kSmallGpt + " --steps 2 --budget 1s"), true);
  EXPECT_EQ(timed.exit_code, 2);
  EXPECT_TRUE(contains(timed.err, "a search budget in seconds would let the ranks stop at different plans")) << timed.err;
}

}  // namespace
}  // namespace spmd::testing
