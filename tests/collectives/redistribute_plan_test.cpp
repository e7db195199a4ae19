// Redistribution plans: the expected collective for each elementary conversion, slices
// before gathers, and uneven or malformed layouts rejected.
#include <gtest/gtest.h>

#include "collectives/redistribute.h"
#include "common/error.h"

namespace spmd::collectives {
namespace {

using Kind = RedistributionStep::Kind;

std::vector<Kind> kinds(const Layout& from, const Layout& to, std::vector<int64_t> shape = {8, 12},
                        std::vector<int> mesh = {2, 2}) {
  std::vector<Kind> out;
  for (const auto& s : plan_redistribution(shape, mesh, from, to)) out.push_back(s.kind);
  return out;
}

TEST(RedistributionPlan, ElementaryConversionsUseOneCollective) {
  Layout rep{{{}, {}}, {}};
  EXPECT_EQ(kinds({{{}, {}}, {0}}, {{{0}, {}}, {}}), std::vector<Kind>{Kind::reduce_scatter});
  EXPECT_EQ(kinds({{{}, {}}, {0}}, rep), std::vector<Kind>{Kind::all_reduce});
  EXPECT_EQ(kinds({{{0}, {}}, {}}, {{{}, {0}}, {}}), std::vector<Kind>{Kind::all_to_all});
  EXPECT_EQ(kinds({{{0}, {}}, {}}, rep), std::vector<Kind>{Kind::all_gather});
  EXPECT_EQ(kinds(rep, {{{1}, {}}, {}}), std::vector<Kind>{Kind::slice});
  EXPECT_EQ(kinds(rep, {{{}, {}}, {1}}), std::vector<Kind>{Kind::make_partial});
  EXPECT_TRUE(kinds(rep, rep).empty());
}

// Layouts that differ only in axes of one device hold the same data on every device:
// moving between them moves nothing, as on a mesh of one device; an axis of two devices
// moves data.
TEST(RedistributionPlan, AxesOfOneDeviceMoveNothingBetweenDevices) {
  const Layout rep{{{}, {}}, {}}, on_first{{{0}, {}}, {}}, partial_first{{{}, {}}, {0}}, on_second{{{1}, {}}, {}};
  EXPECT_FALSE(moves_between_devices(partial_first, on_first, {1, 2}));
  EXPECT_FALSE(moves_between_devices(on_first, rep, {1, 2}));
  EXPECT_TRUE(moves_between_devices(on_second, rep, {1, 2}));
  EXPECT_TRUE(moves_between_devices(on_first, on_second, {1, 2}));
  const Layout second_partial_first{{{1}, {}}, {0}}, second_on_first{{{1}, {0}}, {}};
  EXPECT_FALSE(moves_between_devices(second_partial_first, on_second, {1, 2}));
  EXPECT_FALSE(moves_between_devices(second_partial_first, second_on_first, {1, 2}));
  EXPECT_TRUE(moves_between_devices(second_partial_first, on_second, {2, 2}));
  EXPECT_FALSE(moves_between_devices(on_first, rep, {1}));
  EXPECT_FALSE(moves_between_devices(on_first, rep, {}));  // no mesh: one device
}

TEST(RedistributionPlan, ShrinksBeforeItGathers) {
  // [a0, -] -> [-, a1]: slice by a1 first, so the gather of a0 moves a quarter of the tensor.
  EXPECT_EQ(kinds({{{0}, {}}, {}}, {{{}, {1}}, {}}), (std::vector<Kind>{Kind::slice, Kind::all_gather}));
  // A partial sum that ends split is reduce-scattered, not all-reduced then sliced.
  EXPECT_EQ(kinds({{{}, {}}, {0, 1}}, {{{1}, {0}}, {}}), (std::vector<Kind>{Kind::reduce_scatter, Kind::reduce_scatter}));
}

TEST(RedistributionPlan, ReordersAxesOfOneDimension) {
  // [a0.a1, -] -> [a1.a0, -]: the minor axis must go before the major one can move.
  std::vector<Kind> k = kinds({{{0, 1}, {}}, {}}, {{{1, 0}, {}}, {}});
  EXPECT_FALSE(k.empty());
  EXPECT_EQ(k.back(), Kind::slice);
}

TEST(RedistributionPlan, RejectsUnevenAndMalformedLayouts) {
  EXPECT_THROW(plan_redistribution({6, 4}, {4, 2}, {{{0}, {}}, {}}, {{{}, {}}, {}}), Error);
  EXPECT_THROW(plan_redistribution({8, 4}, {2, 2}, {{{0}, {0}}, {}}, {{{}, {}}, {}}), Error);
  EXPECT_THROW(plan_redistribution({8, 4}, {2, 2}, {{{0}, {}}, {0}}, {{{}, {}}, {}}), Error);
  EXPECT_THROW(plan_redistribution({8, 4}, {2, 2}, {{{2}, {}}, {}}, {{{}, {}}, {}}), Error);
  try {
    local_shape({6, 4}, {4, 2}, {{{0}, {}}, {}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "dimension 0 of size 6 does not split evenly in layout [a0, -]");
  }
}

}  // namespace
}  // namespace spmd::collectives
