// Bad input gets one clear line on stderr and exit code 2: no stack trace, no crash.
#include <fstream>

#include "tests/tools/cli.h"

namespace spmd::testing {
namespace {

void expect_user_error(const std::string& args, const std::string& message) {
  Result r = run(args);
  EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << args << "\n" << r.err;
  EXPECT_NE(r.err.find(message), std::string::npos) << args << "\n" << r.err;
}

std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(Cli, UnknownModelOrHyperParameterIsOneLineAndExitTwo) {
  expect_user_error("run resnet --steps 1", "spmd: error: 'resnet' is neither a model (known: mlp, gpt) nor an IR file");
  expect_user_error("run gpt:depth=2 --steps 1", "unknown hyper-parameter 'depth'");
  expect_user_error("run gpt:d_model=30,heads=4 --steps 1", "d_model=30 is not divisible by heads=4");
  expect_user_error("ir mlp:layers=-1", "'layers=-1' needs a positive integer");
}

TEST(Cli, MalformedIrNamesFileLineAndColumn) {
  std::string bad = write_temp("bad.ir", "spmd-ir 1\n%x = param {init=\"zeros\"} : f32[2,3]\n%y = matmul %x, %x : f32[2,3]\n");
  expect_user_error("run " + bad, bad + ":3:6: matmul: contracting dimensions differ: [2,3] x [2,3]");
  std::string garbage = write_temp("garbage.ir", "spmd-ir 1\nthis is not ir\n");
  expect_user_error("run " + garbage, garbage + ":2:1: expected a node");
}

TEST(Cli, MissingDataFileIsAnError) {
  expect_user_error("run gpt --data /nonexistent/corpus.txt --steps 1", "data file '/nonexistent/corpus.txt' does not exist");
}

TEST(Cli, BadOptionValuesAreRejectedByTheParser) {
  Result r = run("run gpt --steps -3");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run("run gpt --optimizer adagrad");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run("frobnicate");
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST(Cli, EveryRankExitsNonZeroOnBadInputUnderMpirun) {
  Result r = run(std::string(MPIEXEC) + " --oversubscribe --allow-run-as-root -np 3 " + SPMD_BINARY +
                     " run resnet --steps 1",
                 /*raw=*/true, 60);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 124) << "timed out: a rank hung";
  EXPECT_NE(r.err.find("spmd: error: 'resnet' is neither a model"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace spmd::testing
