// The CUDA backend beyond the parity test: where its buffers live, bad ids reported from the
// device, shapes large enough for cuBLAS's batched and folded paths, and a clear refusal
// on a machine without a GPU. GPU tests skip, saying why, where there is none.
#include <gtest/gtest.h>

#include <random>

#include "common/error.h"
#include "tests/kernels/harness.h"

namespace spmd::kernels::testing {
namespace {

bool gpu_present(std::string* why) { return cuda_device_count(why) > 0; }

#define SPMD_REQUIRE_GPU()                                                  \
  do {                                                                      \
    std::string why;                                                        \
    if (!gpu_present(&why)) GTEST_SKIP() << "no GPU for the CUDA backend: " << why; \
  } while (false)

TEST(CudaBackend, WithoutAGpuMakingOneSaysWhy) {
  std::string why;
  if (gpu_present(&why)) GTEST_SKIP() << "a GPU is present";
  EXPECT_FALSE(why.empty());
  try {
    make_cuda_backend(0);
    FAIL() << "made a CUDA backend without a GPU";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("GPU"), std::string::npos) << e.what();
  }
}

TEST(CudaBackend, BuffersLiveOnTheDeviceAndRoundTrip) {
  SPMD_REQUIRE_GPU();
  auto gpu = make_cuda_backend(0);
  EXPECT_TRUE(gpu->device_memory());
  std::vector<float> in = {1.5f, -2.f, 3.25f, 0.f}, out(4, 9.f);
  BackendBuffer a(*gpu, 16), b(*gpu, 16);
  gpu->copy_in(a.get(), in.data(), 16);
  gpu->copy_within(b.get(), a.get(), 16);
  gpu->copy_out(out.data(), b.get(), 16);
  EXPECT_EQ(out, in);
}

TEST(CudaBackend, AnIdOutOfRangeIsReportedAtSynchronizeAndTheBackendGoesOn) {
  SPMD_REQUIRE_GPU();
  auto gpu = make_cuda_backend(0);
  std::mt19937 rng(5);
  HostTensor table = uniform(rng, {4, 3}), bad = ids(rng, {5}, 4);
  bad.i32()[3] = 7;
  const ir::Node node = make_node("gather", std::vector<HostTensor>{table, bad});
  try {
    run(*gpu, node, {table, bad});
    FAIL() << "an id out of range went unreported";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "gather: id 7 out of range [0, 4) at position 3");
  }
  bad.i32()[3] = 1;
  auto reference = make_reference_backend();
  EXPECT_TRUE(all_close(run(*gpu, node, {table, bad}), run(*reference, node, {table, bad})));
}

TEST(CudaBackend, LargerMatmulsMatchTheReference) {
  SPMD_REQUIRE_GPU();
  auto gpu = make_cuda_backend(0);
  auto reference = make_reference_backend();
  std::mt19937 rng(9);
  struct Case {
    ir::Shape a, b;
    bool ta, tb;
  };
  const std::vector<Case> cases = {{{4, 33, 65}, {65, 47}, false, false},  // a weight: one folded GEMM
                                   {{4, 65, 33}, {65, 47}, true, false},
                                   {{3, 33, 65}, {3, 47, 65}, false, true},  // attention's batched GEMM
                                   {{3, 65, 33}, {3, 65, 47}, true, false}};
  for (const Case& c : cases) {
    const std::vector<HostTensor> operands = {uniform(rng, c.a), uniform(rng, c.b)};
    const ir::Node node = make_node("matmul", operands,
                                    attrs({{"transpose_a", int64_t{c.ta}}, {"transpose_b", int64_t{c.tb}}}));
    EXPECT_TRUE(all_close(run(*gpu, node, operands), run(*reference, node, operands)))
        << ir::to_string(operands[0].type) << " x " << ir::to_string(operands[1].type);
  }
}

TEST(CudaBackend, LongReductionsMatchTheReference) {
  SPMD_REQUIRE_GPU();
  auto gpu = make_cuda_backend(0);
  auto reference = make_reference_backend();
  std::mt19937 rng(3);
  const std::vector<HostTensor> x = {uniform(rng, {1000, 37})};
  for (int64_t axis : {0, 1}) {
    for (const char* op : {"reduce_sum", "reduce_max"}) {
      const ir::Node node = make_node(op, x, attrs({{"axes", std::vector<int64_t>{axis}}}));
      EXPECT_TRUE(all_close(run(*gpu, node, x), run(*reference, node, x))) << op << " over axis " << axis;
    }
  }
}

TEST(HostBackend, BuffersRoundTripThroughTheDefaultMemory) {
  auto reference = make_reference_backend();
  EXPECT_FALSE(reference->device_memory());
  std::vector<float> in = {1.f, 2.f, 3.f}, out(3);
  BackendBuffer a(*reference, 12);
  reference->copy_in(a.get(), in.data(), 12);
  reference->copy_out(out.data(), a.get(), 12);
  EXPECT_EQ(out, in);
}

}  // namespace
}  // namespace spmd::kernels::testing
