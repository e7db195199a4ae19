// The traits of the registry's rows (ir::OpTraits) hold for the ops that claim them: what the
// runtime and lowering do on their word (alias a view, update in place, keep sums partial,
// rewrite attributes for a shard) is sound for every op so marked.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "common/error.h"
#include "ir/ops.h"
#include "ir/sharding_rule.h"
#include "kernels/reference/reference.h"
#include "tests/support/op_cases.h"

namespace spmd::ir {
namespace {

std::vector<TensorType> types_of(const testing::OpCase& c) {
  std::vector<TensorType> types;
  for (const testing::OperandSpec& s : c.operands) types.push_back(s.type);
  return types;
}

Node node_of(std::string_view op) {
  Node n;
  n.op = std::string(op);
  return n;
}

// Tables of per-op figures are kept by an op's place in the registry.
TEST(OpIndex, IsTheOpsPlaceInTheRegistry) {
  for (size_t i = 0; i < all_ops().size(); ++i) EXPECT_EQ(op_index(all_ops()[i].name), i) << all_ops()[i].name;
  EXPECT_THROW(op_index("no_such_op"), Error);
}

TEST(OpTraits, SourcesAreExactlyTheOpsWithoutOperands) {
  for (const OpDef& def : all_ops()) {
    EXPECT_EQ(def.arity == 0, def.traits.source != Source::none) << def.name;
    EXPECT_EQ(node_of(def.name).is_source(), def.arity == 0) << def.name;
  }
  EXPECT_FALSE(node_of("frobnicate").is_source());
}

// The runtime gives a view its operand's buffer: the bytes must be the same.
TEST(OpTraits, AViewHasItsOperandsElementsAndDtype) {
  int views = 0;
  for (const OpDef& def : all_ops()) {
    if (!def.traits.view) continue;
    ++views;
    for (const testing::OpCase& c : testing::op_cases(def.name)) {
      const Node n = testing::case_node(def.name, c);
      EXPECT_EQ(n.type.numel(), c.operands[0].type.numel()) << def.name;
      EXPECT_EQ(n.type.dtype, c.operands[0].type.dtype) << def.name;
    }
  }
  EXPECT_GT(views, 0);
}

// The runtime writes an update into its operand 0 and ZeRO shards it like operand 0: the
// result must have operand 0's type and dimensions.
TEST(OpTraits, AnOptimizerUpdateIsLaidOutAsItsFirstOperand) {
  for (const OpDef& def : all_ops()) {
    if (!def.traits.optimizer_update) continue;
    for (const testing::OpCase& c : testing::op_cases(def.name)) {
      const Node n = testing::case_node(def.name, c);
      EXPECT_EQ(n.type, c.operands[0].type) << def.name;
      EXPECT_EQ(sharding_rule(n, types_of(c)).result, sharding_rule(n, types_of(c)).operands[0]) << def.name;
    }
  }
  EXPECT_TRUE(is_optimizer_update("adamw"));
  EXPECT_FALSE(is_optimizer_update("add"));
}

kernels::RefTensor random(std::mt19937& rng, const TensorType& t) {
  std::uniform_real_distribution<double> dist(-1, 1);
  kernels::RefTensor r{t, std::vector<double>(static_cast<size_t>(t.numel()))};
  for (double& x : r.data) x = dist(rng);
  return r;
}

kernels::RefTensor eval(const Node& n, const std::vector<kernels::RefTensor>& in) {
  std::vector<const kernels::RefTensor*> p;
  for (const auto& t : in) p.push_back(&t);
  return kernels::eval_reference(n, p);
}

// Lowering adds partial operands before summing over devices: f(a1 + a2, b1 + b2) must be
// f(a1, b1) + f(a2, b2) for every op whose partial sums stay partial.
TEST(OpTraits, AnOpWhosePartialSumsStayPartialIsLinearInItsOperandsTogether) {
  std::mt19937 rng(5);
  for (const OpDef& def : all_ops()) {
    if (def.traits.partial_sums != PartialSums::stay_partial) continue;
    const std::vector<TensorType> same{{DType::f32, {3, 5}}, {DType::f32, {3, 5}}};
    const Node n = testing::case_node(def.name, {{{same[0]}, {same[1]}}, {}, {}});
    std::vector<kernels::RefTensor> first, second, sum;
    for (const TensorType& t : same) {
      first.push_back(random(rng, t));
      second.push_back(random(rng, t));
      sum.push_back(first.back());
      for (size_t i = 0; i < sum.back().data.size(); ++i) sum.back().data[i] += second.back().data[i];
    }
    const kernels::RefTensor whole = eval(n, sum), a = eval(n, first), b = eval(n, second);
    for (size_t i = 0; i < whole.data.size(); ++i)
      EXPECT_NEAR(whole.data[i], a.data[i] + b.data[i], 1e-12) << def.name;
  }
}

// A lookup's rule has the table's rows as one replicated factor found in one place only (an
// operand's or the result's first dimension), which the cost model does not iterate.
TEST(OpTraits, ALookupsTableRowsAreAReplicatedFactorInOnePlace) {
  int lookups = 0;
  for (const OpDef& def : all_ops()) {
    if (!def.traits.lookup) continue;
    ++lookups;
    for (const testing::OpCase& c : testing::op_cases(def.name)) {
      const Node n = testing::case_node(def.name, c);
      const ShardingRule rule = sharding_rule(n, types_of(c));
      int rows = 0;
      for (size_t f = 0; f < rule.factor_size.size(); ++f) {
        int places = 0;
        for (const auto& dims : rule.operands) {
          for (const auto& dim : dims) places += std::count(dim.begin(), dim.end(), static_cast<int>(f));
        }
        for (const auto& dim : rule.result) places += std::count(dim.begin(), dim.end(), static_cast<int>(f));
        rows += rule.factor_kind[f] == FactorKind::replicated && places == 1;
      }
      EXPECT_EQ(rows, 1) << def.name;
    }
  }
  EXPECT_EQ(lookups, 2);
}

// The analysis reads dense layers joined by an activation as an MLP: an activation is one
// elementwise operand, and not linear (else the two layers would be one).
TEST(OpTraits, AnActivationIsElementwiseAndNotLinear) {
  std::mt19937 rng(7);
  int activations = 0;
  for (const OpDef& def : all_ops()) {
    if (!def.traits.activation) continue;
    ++activations;
    EXPECT_EQ(def.arity, 1) << def.name;
    const TensorType t{DType::f32, {4, 6}};
    const Node n = testing::case_node(def.name, {{{t}}, {}, {}});
    EXPECT_EQ(n.type, t) << def.name;
    kernels::RefTensor a = random(rng, t), b = random(rng, t), sum = a;
    for (size_t i = 0; i < sum.data.size(); ++i) sum.data[i] += b.data[i];
    const kernels::RefTensor whole = eval(n, {sum}), fa = eval(n, {a}), fb = eval(n, {b});
    double largest_gap = 0;
    for (size_t i = 0; i < whole.data.size(); ++i) largest_gap = std::max(largest_gap, std::abs(whole.data[i] - fa.data[i] - fb.data[i]));
    EXPECT_GT(largest_gap, 1e-3) << def.name << " is linear";
  }
  EXPECT_GE(activations, 3);
}

Node sharded(const std::string& op, Attrs attrs, TensorType global, Shape local) {
  Node n{op, {0}, std::move(attrs), std::move(global), ""};
  Node l = n;
  l.type.shape = std::move(local);
  op_traits(op).localize(l, n);
  return l;
}

TEST(OpTraits, ReshapeAndBroadcastSpellOutTheLocalShape) {
  Attrs a;
  a.set("shape", std::vector<int64_t>{8, 2, 5});
  const Node reshape = sharded("reshape", a, {DType::f32, {8, 2, 5}}, {4, 2, 5});
  EXPECT_EQ(reshape.attrs.ints("shape"), (std::vector<int64_t>{4, 2, 5}));
  const TensorType local_operand{DType::f32, {4, 10}};
  EXPECT_EQ(op_def("reshape").infer({&local_operand, 1}, reshape), reshape.type);
  a.set("shape", std::vector<int64_t>{6, 5});
  EXPECT_EQ(sharded("broadcast", a, {DType::f32, {6, 5}}, {3, 5}).attrs.ints("shape"),
            (std::vector<int64_t>{3, 5}));
}

// A slice cuts only dimensions it keeps whole; a dimension split over devices is taken whole
// from each shard, while the cut one keeps its bounds.
TEST(OpTraits, ASliceTakesAllOfASplitDimensionAndCutsTheOthers) {
  Attrs a;
  a.set("begin", std::vector<int64_t>{0, 2});
  a.set("end", std::vector<int64_t>{8, 7});
  const Node slice = sharded("slice", a, {DType::f32, {8, 5}}, {4, 5});
  EXPECT_EQ(slice.attrs.ints("begin"), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(slice.attrs.ints("end"), (std::vector<int64_t>{4, 7}));
  const TensorType local_operand{DType::f32, {4, 7}};
  EXPECT_EQ(op_def("slice").infer({&local_operand, 1}, slice), slice.type);
}

TEST(OpTraits, AnUnknownOpHasNone) { EXPECT_THROW(op_traits("frobnicate"), Error); }

}  // namespace
}  // namespace spmd::ir
