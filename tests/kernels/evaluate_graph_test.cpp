// evaluate_graph runs a whole graph through the reference given its sources.
#include <gtest/gtest.h>

#include "common/error.h"
#include "ir/builder.h"
#include "kernels/reference/reference.h"

namespace spmd::kernels {
namespace {

TEST(EvaluateGraph, ComputesEveryNodeInOrderFromTheGivenSources) {
  ir::Graph g;
  ir::Builder b(g);
  const auto x = b.input("x", {ir::DType::f32, {1, 2}}, "features");
  const auto w = b.param("w", {2, 2});
  const auto y = b.reduce_sum(b.add(b.matmul(x, w), b.constant(1.0)), {0, 1});
  const std::map<ir::ValueId, RefTensor> sources = {
      {x, {g.type(x), {1, 2}}},
      {w, {g.type(w), {1, 2, 3, 4}}},
  };
  const std::vector<RefTensor> values = evaluate_graph(g, sources);
  ASSERT_EQ(values.size(), static_cast<size_t>(g.size()));
  EXPECT_EQ(values[y].data, (std::vector<double>{(7 + 1) + (10 + 1)}));  // [1,2] x w = [7,10]
}

TEST(EvaluateGraph, NamesTheSourceThatHasNoValue) {
  ir::Graph g;
  ir::Builder b(g);
  const auto x = b.input("x", {ir::DType::f32, {2}}, "features");
  b.neg(b.add(x, b.param("bias", {2})));
  try {
    evaluate_graph(g, {{x, {g.type(x), {1, 2}}}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("%bias"), std::string::npos) << e.what();
  }
}

TEST(EvaluateGraph, RejectsSourceValuesOfTheWrongType) {
  ir::Graph g;
  ir::Builder b(g);
  const auto x = b.input("x", {ir::DType::f32, {2}}, "features");
  b.neg(x);
  std::map<ir::ValueId, RefTensor> sources;
  sources[x] = RefTensor{ir::TensorType{ir::DType::f32, {3}}, {1, 2, 3}};
  EXPECT_THROW(evaluate_graph(g, sources), Error);
}

}  // namespace
}  // namespace spmd::kernels
