// Shape rules: result types, and mismatches rejected with the op and shapes named.
#include <gtest/gtest.h>

#include "common/error.h"
#include "ir/builder.h"
#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "ir/ops.h"
#include "ir/verify.h"

namespace spmd::ir {
namespace {

TEST(ShapeRules, MatmulBatchesAndTransposes) {
  Graph g;
  Builder b(g);
  ValueId a = b.param("a", {8, 4, 16, 32});
  ValueId c = b.param("c", {8, 4, 24, 32});
  EXPECT_EQ(b.shape(b.matmul(a, c, false, true)), (Shape{8, 4, 16, 24}));
  ValueId w = b.param("w", {32, 64});
  EXPECT_EQ(b.shape(b.matmul(a, w)), (Shape{8, 4, 16, 64}));
  EXPECT_THROW(b.matmul(a, c), Error);
}

TEST(ShapeRules, BroadcastFollowsNumpy) {
  EXPECT_EQ(broadcast_shapes({8, 1, 3}, {5, 1}), (Shape{8, 5, 3}));
  EXPECT_EQ(broadcast_shapes({}, {2, 3}), (Shape{2, 3}));
  try {
    broadcast_shapes({2, 3}, {4});
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "shapes [2,3] and [4] do not broadcast");
  }
}

TEST(ShapeRules, ReductionsDropOrKeepAxes) {
  Graph g;
  Builder b(g);
  ValueId x = b.param("x", {2, 3, 4});
  EXPECT_EQ(b.shape(b.reduce_sum(x, {0, -1})), (Shape{3}));
  EXPECT_EQ(b.shape(b.reduce_mean(x, {1}, true)), (Shape{2, 1, 4}));
  EXPECT_THROW(b.reduce_sum(x, {3}), Error);
  EXPECT_THROW(b.reduce_sum(x, {1, -2}), Error);
}

TEST(ShapeRules, ShapeOpsCheckTheirAttributes) {
  Graph g;
  Builder b(g);
  ValueId x = b.param("x", {2, 3, 4});
  EXPECT_EQ(b.shape(b.transpose(x, {2, 0, 1})), (Shape{4, 2, 3}));
  EXPECT_THROW(b.transpose(x, {0, 0, 1}), Error);
  EXPECT_THROW(b.reshape(x, {5, 5}), Error);
  EXPECT_EQ(b.shape(b.slice(x, {0, 1, 0}, {2, 3, 2})), (Shape{2, 2, 2}));
  EXPECT_THROW(b.slice(x, {0, 2, 0}, {2, 2, 2}), Error);
  EXPECT_EQ(b.shape(b.concat({x, x}, -1)), (Shape{2, 3, 8}));
  EXPECT_THROW(b.broadcast(x, {3, 4}), Error);
}

TEST(ShapeRules, EmbeddingAndLossTypes) {
  Graph g;
  Builder b(g);
  ValueId table = b.param("t", {10, 6});
  ValueId ids = b.input("ids", {DType::i32, {2, 5}}, "tokens");
  ValueId e = b.gather(table, ids);
  EXPECT_EQ(b.type(e), (TensorType{DType::f32, {2, 5, 6}}));
  EXPECT_THROW(b.gather(table, e), Error);  // f32 ids
  ValueId logits = b.param("l", {2, 5, 10});
  EXPECT_EQ(b.shape(b.cross_entropy(logits, ids)), (Shape{2, 5}));
  EXPECT_THROW(b.cross_entropy(table, ids), Error);
}

TEST(Registry, EveryOpHasAShapeRuleAndUnknownOpsAreErrors) {
  for (const OpDef& def : all_ops()) EXPECT_NE(def.infer, nullptr) << def.name;
  EXPECT_EQ(&op_def("matmul"), find_op("matmul"));
  EXPECT_THROW(op_def("conv3d"), Error);
}

}  // namespace
}  // namespace spmd::ir

namespace spmd::ir {
namespace {

TEST(Verify, AcceptsEveryZooTrainingStep) {
  for (const char* spec : {"mlp", "gpt"}) {
    EXPECT_NO_THROW(verify(training_step(build_model(spec), {}))) << spec;
  }
}

TEST(Verify, NamesTheFirstOffendingValue) {
  Graph g = build_model("mlp:layers=1");
  Graph wrong_type = g;
  wrong_type.nodes[5].type.shape = {3};
  EXPECT_THROW(verify(wrong_type), Error);
  Graph forward_ref = g;
  forward_ref.nodes[4].inputs = {6, 2};
  try {
    verify(forward_ref);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("%4: operand 6 is not an earlier value", 0), 0u) << e.what();
  }
  Graph twice = g;
  twice.nodes[1].name = twice.nodes[0].name;
  EXPECT_THROW(verify(twice), Error);
}

}  // namespace
}  // namespace spmd::ir
