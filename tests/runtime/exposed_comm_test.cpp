// The exposed communication of a timed step: its launches' span less its kernels' time.
#include <gtest/gtest.h>

#include "runtime/exposed_comm.h"

namespace spmd::runtime {
namespace {

// Node i is a kernel ("add") or a collective ("redistribute"); only the ops matter here.
ir::Graph ops(std::initializer_list<const char*> names) {
  ir::Graph g;
  for (const char* name : names) g.nodes.push_back(ir::Node{name, {}, {}, {}, ""});
  return g;
}

TEST(ExposedComm, CollectivesBetweenKernelsAreExposed) {
  ir::Graph g = ops({"add", "redistribute", "add"});
  EXPECT_DOUBLE_EQ(exposed_comm_seconds(g, {{0, 0, 1}, {1, 1, 3}, {2, 3, 4}}), 2);
}

TEST(ExposedComm, WaitsBetweenKernelsCountAsUncovered) {
  ir::Graph g = ops({"add", "add"});
  EXPECT_DOUBLE_EQ(exposed_comm_seconds(g, {{0, 10, 11}, {1, 12, 13}}), 1);
}

TEST(ExposedComm, NoLaunchesNothingExposed) { EXPECT_EQ(exposed_comm_seconds(ops({}), {}), 0); }

}  // namespace
}  // namespace spmd::runtime
