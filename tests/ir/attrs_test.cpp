// Attribute values and sizes a graph may hold: NaN and out-of-range settings are the user's
// mistake wherever the graph comes from (text or code), and no size overflows.
#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "ir/builder.h"
#include "ir/verify.h"

namespace spmd::ir {
namespace {

TEST(AttrValues, NanIsRejectedForAnyRealAttribute) {
  Attrs a;
  a.set("fill", std::nan(""));
  EXPECT_THROW(check_attr_values(a), Error);
}

TEST(AttrValues, NamedSettingsStayInTheirRange) {
  for (auto [name, value] : {std::pair{"eps", 0.0}, {"std", -0.5}, {"beta1", 1.0}, {"lr", -1e-3}, {"momentum", -0.1}}) {
    Attrs a;
    a.set(name, value);
    EXPECT_THROW(check_attr_values(a), Error) << name << " = " << value;
  }
  Attrs fine;
  fine.set("eps", 1e-5);
  fine.set("beta2", 0.999);
  fine.set("fill", -INFINITY);
  EXPECT_NO_THROW(check_attr_values(fine));
}

TEST(AttrValues, VerifyRejectsAGraphBuiltInCodeWithANanInitialiser) {
  Graph g;
  Builder b(g);
  b.param("w", {2, 2}, "normal", std::nan(""));
  EXPECT_THROW(verify(g), Error);
}

TEST(TensorSizes, ElementCountsPastTwoToTheSixtyAreErrors) {
  EXPECT_THROW(numel({int64_t{1} << 31, int64_t{1} << 31}), Error);
  EXPECT_THROW(numel({int64_t{1} << 62, 4}), Error);
  EXPECT_EQ(numel({1 << 20, 1 << 20}), int64_t{1} << 40);
}

}  // namespace
}  // namespace spmd::ir
