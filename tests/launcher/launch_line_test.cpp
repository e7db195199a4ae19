// The mpirun line of `spmd launch`.
#include "launcher/launch_line.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace spmd::launcher {
namespace {

LaunchRequest request(std::optional<DeviceKind> map_by) {
  return {8, map_by, {"--oversubscribe", "--mca", "btl", "self,tcp"}, {"spmd", "run", "gpt"}};
}

TEST(MpirunCommand, BindsEachRankToItsDeviceKind) {
  NodeShape cpu_node{2, 0};
  auto line = mpirun_command(request(DeviceKind::core), cpu_node, false, "mpirun");
  EXPECT_EQ(line,
            (std::vector<std::string>{"mpirun", "-np", "8", "--map-by", "core", "--bind-to", "core:overload-allowed",
                                      "--oversubscribe", "--mca", "btl", "self,tcp", "spmd", "run", "gpt"}));
  line = mpirun_command(request(DeviceKind::package), cpu_node, false, "mpirun");
  EXPECT_EQ(line[4], "socket");
  EXPECT_EQ(line[6], "socket:overload-allowed");
}

TEST(MpirunCommand, DefaultsToNumaWithoutGpusAndGpuWithThem) {
  auto cpu = mpirun_command(request(std::nullopt), {2, 0}, false, "mpirun");
  EXPECT_EQ(cpu[4], "numa");
  auto gpu = mpirun_command(request(std::nullopt), {2, 8}, false, "mpirun");
  EXPECT_EQ(gpu[4], "ppr:4:socket");  // 8 GPUs over 2 packages
  auto uneven = mpirun_command(request(DeviceKind::gpu), {2, 3}, false, "mpirun");
  EXPECT_EQ(uneven[4], "ppr:3:node");
  EXPECT_EQ(uneven[6], "none");
}

TEST(MpirunCommand, AddsAllowRunAsRootForRoot) {
  auto line = mpirun_command(request(DeviceKind::core), {1, 0}, true, "/usr/bin/mpirun");
  EXPECT_EQ(line[0], "/usr/bin/mpirun");
  EXPECT_EQ(line[1], "--allow-run-as-root");
}

TEST(MpirunCommand, RefusesWhatCannotRun) {
  EXPECT_THROW(mpirun_command(request(DeviceKind::gpu), {2, 0}, false, "mpirun"), Error);
  LaunchRequest no_command = request(DeviceKind::core);
  no_command.command.clear();
  EXPECT_THROW(mpirun_command(no_command, {1, 0}, false, "mpirun"), Error);
  LaunchRequest no_ranks = request(DeviceKind::core);
  no_ranks.ranks = 0;
  EXPECT_THROW(mpirun_command(no_ranks, {1, 0}, false, "mpirun"), Error);
}

TEST(ShellLine, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(shell_line({"mpirun", "-np", "2", "--mca", "btl", "self,tcp", "a b", "it's"}),
            "mpirun -np 2 --mca btl self,tcp 'a b' 'it'\\''s'");
}

}  // namespace
}  // namespace spmd::launcher
