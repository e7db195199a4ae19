// `spmd collective`: the synthesized schedules for one collective, on a simulated cluster
// (the DGX-2 file, repeated) and on the live job, and its answers to bad input.
#include <regex>

#include "tests/tools/cli.h"

namespace spmd::testing {
namespace {

const std::string kDgx2 = SPMD_TOPOLOGIES_DIR "/nvidiaDGX2.xml";


int count_of(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++n;
  return n;
}

void expect_user_error(const std::string& args, const std::string& message) {
  Result r = run(args);
  EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << args << "\n" << r.err;
  EXPECT_TRUE(contains(r.err, message)) << args << "\n" << r.err;
}

TEST(CollectiveCommand, AllReduceAcrossDgx2NodesChoosesANestedSchedule) {
  Result r = run("collective allreduce --bytes 64MiB --topology " + kDgx2 + " --nodes 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "Topology: 4 nodes, 64 devices (gpu): cluster 4 x network")) << r.out;
  EXPECT_TRUE(contains(r.out, "all_reduce of 64 MiB over 64 ranks (every device): 22 candidate schedules")) << r.out;
  EXPECT_TRUE(contains(r.out, "Chosen: all_reduce, nested")) << r.out;
  EXPECT_TRUE(contains(r.out, "reduce_scatter")) << r.out;
  EXPECT_TRUE(contains(r.out, "flat ring")) << r.out;  // among the candidates, not first
  EXPECT_EQ(count_of(r.out, "\n    1  "), 1) << r.out;
}

TEST(CollectiveCommand, KLimitsTheCandidateTable) {
  Result r = run("collective all_reduce --bytes 4KiB --topology " + kDgx2 + " --nodes 4 --k 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "    3  ")) << r.out;
  EXPECT_FALSE(contains(r.out, "    4  ")) << r.out;
  EXPECT_TRUE(contains(r.out, "(19 more; --k limits the table)")) << r.out;
}

TEST(CollectiveCommand, DevicesChoosesTheGroup) {
  Result r = run("collective allgather --bytes 1000000 --topology " + kDgx2 + " --nodes 2 --devices 0-3,16-19");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "all_gather of 976.6 KiB over 8 ranks (devices 0-3,16-19)")) << r.out;
  EXPECT_TRUE(contains(r.out, "Chosen: all_gather, flat")) << r.out;
  r = run("collective broadcast --bytes 1GiB --topology " + kDgx2 + " --devices 5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "over 1 rank (devices 5): 1 candidate schedule")) << r.out;
}

TEST(CollectiveCommand, EveryCollectiveHasASchedule) {
  for (const char* name : {"allreduce", "reducescatter", "allgather", "broadcast", "reduce", "alltoall"}) {
    Result r = run(std::string("collective ") + name + " --bytes 1MiB --topology 'synthetic:package:2 core:8' " +
                   "--nodes 4 --device package");
    EXPECT_EQ(r.exit_code, 0) << name << "\n" << r.err;
    EXPECT_TRUE(contains(r.out, "Chosen: ")) << name << "\n" << r.out;
  }
}

TEST(CollectiveCommand, BadInputIsOneLineAndExitTwo) {
  const std::string dgx2 = " --topology " + kDgx2;
  expect_user_error("collective allsum --bytes 1MiB" + dgx2, "spmd: error: unknown collective 'allsum'");
  expect_user_error("collective allreduce --bytes 12XB" + dgx2, "spmd: error: --bytes '12XB' is not a size");
  expect_user_error("collective allreduce --bytes -4KiB" + dgx2, "--bytes '-4KiB' is not a size");
  expect_user_error("collective allreduce --bytes MiB" + dgx2, "--bytes 'MiB' is not a size");
  expect_user_error("collective allreduce --bytes 1MiB --topology /no/such.xml",
                    "spmd: error: topology file '/no/such.xml' does not exist");
  expect_user_error("collective allreduce --bytes 1MiB --nodes 4", "--nodes 4 simulates a cluster");
  expect_user_error("collective allreduce --bytes 1MiB --devices 0-16" + dgx2,
                    "--devices '0-16': device 16 is not in the topology (16 devices, 0-15)");
  expect_user_error("collective allreduce --bytes 1MiB --devices 2,2" + dgx2, "device 2 is listed twice");
  expect_user_error("collective allreduce --bytes 1MiB --devices 3-x" + dgx2, "'x' is not a device id");
  EXPECT_EQ(run("collective allreduce" + dgx2).exit_code, 2);  // --bytes is required
  EXPECT_EQ(run("collective allreduce --bytes 1MiB --k 0" + dgx2).exit_code, 2);
}

TEST(CollectiveCommand, PrintsOnceUnderMpirun) {
  std::string mpirun = std::string(MPIEXEC) + " --oversubscribe --allow-run-as-root -np 2 " + SPMD_BINARY;
  Result r = run(mpirun + " collective allreduce --bytes 64MiB --topology " + kDgx2 + " --nodes 4", /*raw=*/true, 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_of(r.out, "Chosen: "), 1) << r.out;
  // Without --topology: the live job, two ranks on this machine.
  r = run(mpirun + " collective allreduce --bytes 1MiB", /*raw=*/true, 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_of(r.out, "Chosen: "), 1) << r.out;
  EXPECT_TRUE(contains(r.out, "over 2 ranks (every device)")) << r.out;
}

TEST(CollectiveCommand, BadInputFailsEveryRankUnderMpirun) {
  std::string mpirun = std::string(MPIEXEC) + " --oversubscribe --allow-run-as-root -np 2 " + SPMD_BINARY;
  Result r = run(mpirun + " collective allreduce --bytes 1MiB --topology /no/such.xml", /*raw=*/true, 60);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 124) << "timed out: a rank hung";
  EXPECT_TRUE(contains(r.err, "topology file '/no/such.xml' does not exist")) << r.err;
}

TEST(CollectiveCommand, OnTheLiveJobEachCandidateIsMeasuredBesideItsPrediction) {
  std::string mpirun = std::string(MPIEXEC) + " --oversubscribe --allow-run-as-root -np 2 " + SPMD_BINARY;
  Result r = run(mpirun + " collective allgather --bytes 64KiB --measure", /*raw=*/true, 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "measured on this job: the slowest rank's time")) << r.out;
  EXPECT_TRUE(contains(r.out, "   measured    error  ")) << r.out;
  // The ring's row carries its measured time and the prediction's error in percent.
  const size_t ring = r.out.find("flat ring\n");
  ASSERT_NE(ring, std::string::npos) << r.out;
  const std::string row = r.out.substr(r.out.rfind('\n', ring) + 1, ring - r.out.rfind('\n', ring));
  // "#  predicted  vs best  measured  error": two times in any unit, a ratio, a signed percent.
  const std::regex columns(R"(\s*[0-9]+\s+[0-9.]+ [mun]?s\s+[0-9.]+x\s+[0-9.]+ [mun]?s\s+[+-][0-9]+%\s+.*)");
  EXPECT_TRUE(std::regex_match(row, columns)) << row;
  r = run(mpirun + " collective allgather --bytes 64KiB --measure --topology " + kDgx2, /*raw=*/true, 60);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "--measure runs the collective on the live job")) << r.err;
}

}  // namespace
}  // namespace spmd::testing
