// spmd lower end to end: the per-device program of dp, megatron and zero on a small mlp,
// pinned by golden files (tests/tools/golden/lower_*.ir). After an intended change of
// lowering, regenerate them with SPMD_UPDATE_GOLDEN=1 ctest -R LowerCommand and review the
// diff.
#include <cstdlib>
#include <fstream>

#include "tests/tools/cli.h"
#include "tests/support/scratch.h"

namespace spmd::testing {
namespace {

const char* kMlp = "mlp:layers=2,hidden=8,batch=4,features=6,classes=4";

void expect_golden(const std::string& args, const std::string& golden) {
  Result r = run(args);
  ASSERT_EQ(r.exit_code, 0) << args << "\n" << r.err;
  std::string path = std::string(SPMD_GOLDEN_DIR) + "/" + golden;
  if (std::getenv("SPMD_UPDATE_GOLDEN")) std::ofstream(path) << r.out;
  EXPECT_EQ(r.out, slurp(path)) << "spmd " << args << " differs from " << path;
}

TEST(LowerCommand, DataParallelMlpMatchesGolden) {
  expect_golden(std::string("lower ") + kMlp + " --strategy dp --ranks 2", "lower_mlp_dp.ir");
}

TEST(LowerCommand, MegatronMlpMatchesGolden) {
  expect_golden(std::string("lower ") + kMlp + " --strategy megatron --ranks 2", "lower_mlp_megatron.ir");
}

TEST(LowerCommand, ZeroMlpMatchesGolden) {
  expect_golden(std::string("lower ") + kMlp + " --strategy zero --ranks 2 --rank 1", "lower_mlp_zero.ir");
}

TEST(LowerCommand, PrintedProgramParsesBackAsIr) {
  Result r = run(std::string("lower ") + kMlp + " --strategy megatron --ranks 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("redistribute"), std::string::npos) << "megatron's program has no collective";
  std::string path = scratch_path("lowered.ir");
  std::ofstream(path) << r.out;
  Result again = run("ir " + path);
  EXPECT_EQ(again.exit_code, 0) << again.err;
}

TEST(LowerCommand, RankOutsideTheMeshIsOneLineAndExitTwo) {
  Result r = run(std::string("lower ") + kMlp + " --strategy dp --ranks 2 --rank 2");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--rank 2 is not a rank of 2"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace spmd::testing
