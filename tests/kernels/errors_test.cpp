// User-facing mistakes caught by the kernels raise spmd::Error saying what and where, in
// both backends alike; an op a backend lacks is an spmd::InternalError.
#include <gtest/gtest.h>

#include "common/error.h"
#include "kernels/reference/reference.h"
#include "tests/kernels/harness.h"

namespace spmd::kernels::testing {
namespace {

std::string error_of(Backend& backend, const ir::Node& node, const std::vector<HostTensor>& in) {
  try {
    run(backend, node, in);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(KernelErrors, GatherNamesTheIdOutOfRangeAndItsPosition) {
  std::mt19937 rng(71);
  HostTensor positions = ids(rng, {20}, 256);
  positions.i32()[17] = 300;
  const std::vector<HostTensor> in{uniform(rng, {256, 4}), positions};
  const ir::Node node = make_node("gather", in);
  const std::string expected = "gather: id 300 out of range [0, 256) at position 17";
  EXPECT_EQ(error_of(*make_cpu_backend(), node, in), expected);
  EXPECT_EQ(error_of(*make_reference_backend(), node, in), expected);
}

TEST(KernelErrors, ScatterAddAndCrossEntropyRejectOutOfRangeIndices) {
  std::mt19937 rng(72);
  HostTensor positions = ids(rng, {6}, 4);
  positions.i32()[2] = -1;
  const std::vector<HostTensor> scatter{positions, uniform(rng, {6, 3})};
  const ir::Node scatter_node = make_node("scatter_add", scatter, attrs({{"rows", int64_t{4}}}));
  const std::string scatter_error = "scatter_add: id -1 out of range [0, 4) at position 2";
  EXPECT_EQ(error_of(*make_cpu_backend(), scatter_node, scatter), scatter_error);
  EXPECT_EQ(error_of(*make_reference_backend(), scatter_node, scatter), scatter_error);

  HostTensor labels = ids(rng, {3}, 5);
  labels.i32()[1] = 5;
  const std::vector<HostTensor> loss{uniform(rng, {3, 5}), labels};
  const ir::Node loss_node = make_node("cross_entropy", loss);
  const std::string loss_error = "cross_entropy: label 5 out of range [0, 5) at position 1";
  EXPECT_EQ(error_of(*make_cpu_backend(), loss_node, loss), loss_error);
  EXPECT_EQ(error_of(*make_reference_backend(), loss_node, loss), loss_error);
}

std::string internal_error_of(Backend& backend, const ir::Node& node) {
  try {
    run(backend, node, {});
  } catch (const InternalError& e) {
    return e.what();
  }
  return "(no internal error)";
}

// No kernel table falls through to another op's kernel: an op it lacks is a bug named with
// the op and the backend.
TEST(KernelErrors, AnOpWithoutAKernelIsAnInternalErrorNamingOpAndBackend) {
  ir::Node unknown;
  unknown.op = "frobnicate";
  unknown.type = f32({2});
  EXPECT_EQ(internal_error_of(*make_cpu_backend(), unknown), "cpu backend: no kernel for op 'frobnicate'");
  EXPECT_EQ(internal_error_of(*make_reference_backend(), unknown),
            "reference backend: no kernel for op 'frobnicate'");
  EXPECT_FALSE(make_cpu_backend()->supports("frobnicate", {}));
  EXPECT_FALSE(make_reference_backend()->supports("frobnicate", {}));
}

TEST(KernelErrors, FedSourcesHaveNoKernel) {
  for (const char* op : {"input", "param", "state"}) {
    ir::Node source;
    source.op = op;
    source.type = f32({2});
    const std::string expected = std::string("no kernel for op '") + op + "' (sources are fed by the runtime)";
    EXPECT_EQ(internal_error_of(*make_cpu_backend(), source), "cpu backend: " + expected);
    EXPECT_EQ(internal_error_of(*make_reference_backend(), source), "reference backend: " + expected);
    EXPECT_FALSE(make_cpu_backend()->supports(op, {}));
  }
}

}  // namespace
}  // namespace spmd::kernels::testing
