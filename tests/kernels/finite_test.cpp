// Backend::all_finite on every backend: what a job checks its params with after each step.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <vector>

#include "tests/kernels/harness.h"

namespace spmd::kernels::testing {
namespace {

class AllFinite : public ::testing::TestWithParam<BackendUnderTest> {
 protected:
  void SetUp() override {
    SPMD_SKIP_IF_UNAVAILABLE(GetParam());
    backend_ = GetParam().make();
  }
  // `values` copied into the backend's memory as a tensor of `type`.
  TensorRef held(const std::vector<float>& values, ir::DType dtype = ir::DType::f32) {
    buffers_.emplace_back(*backend_, values.size() * sizeof(float));
    backend_->copy_in(buffers_.back().get(), values.data(), values.size() * sizeof(float));
    return {{dtype, {static_cast<int64_t>(values.size())}}, buffers_.back().get()};
  }
  bool all_finite(const std::vector<TensorRef>& tensors) { return backend_->all_finite(tensors); }

  std::unique_ptr<Backend> backend_;
  std::vector<BackendBuffer> buffers_;
};

TEST_P(AllFinite, ExtremeButFiniteValuesAreFinite) {
  const std::vector<float> extremes = {0.f, -0.f, FLT_MAX, -FLT_MAX, FLT_MIN, FLT_TRUE_MIN, 1e-40f, -3.5f};
  EXPECT_TRUE(all_finite({held(extremes), held(std::vector<float>(10000, 1.f))}));
  EXPECT_TRUE(all_finite({}));
}

TEST_P(AllFinite, ANaNOrAnInfinityAnywhereIsFound) {
  constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
  constexpr float kInf = std::numeric_limits<float>::infinity();
  for (float bad : {kNaN, -kNaN, kInf, -kInf}) {
    for (size_t at : {size_t{0}, size_t{4095}, size_t{4096}, size_t{9999}}) {
      std::vector<float> values(10000, 0.5f);
      values[at] = bad;
      EXPECT_FALSE(all_finite({held({1.f, 2.f}), held(values)})) << bad << " at " << at;
    }
  }
}

// An i32 tensor's words may read as a NaN's bits: they are no float, and not checked.
TEST_P(AllFinite, IntegerTensorsAreNotFloats) {
  EXPECT_TRUE(all_finite({held({std::numeric_limits<float>::quiet_NaN()}, ir::DType::i32)}));
}

INSTANTIATE_TEST_SUITE_P(Backends, AllFinite, ::testing::ValuesIn(backends_under_test()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace spmd::kernels::testing
