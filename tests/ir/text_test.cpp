// The text form prints and parses back to the same graph, and malformed text is rejected
// with the line and column of the problem.
#include <gtest/gtest.h>

#include "common/error.h"
#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "ir/text.h"

namespace spmd::ir {
namespace {

class RoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(RoundTrip, TrainingStepParsesBackToTheSameGraph) {
  for (const char* opt : {"adamw", "sgd"}) {
    Optimizer o;
    o.kind = opt;
    Graph g = training_step(build_model(GetParam()), o);
    std::string text = print(g);
    Graph back = parse(text);
    EXPECT_TRUE(back == g) << GetParam() << " with " << opt;
    EXPECT_EQ(print(back), text);
  }
}

INSTANTIATE_TEST_SUITE_P(EveryZooModel, RoundTrip,
                         ::testing::Values("mlp", "mlp:layers=4,hidden=64,batch=5", "gpt",
                                           "gpt:layers=1,d_model=12,heads=3,seq=5,vocab=7,batch=2"));

TEST(Print, ReadsLikeTheModel) {
  std::string text = print(build_model("mlp:layers=1"));
  EXPECT_NE(text.find("%features = input {feed=\"features\"} : f32[64,32]"), std::string::npos) << text;
  EXPECT_NE(text.find("matmul %features, %layer0.w : f32[64,256]"), std::string::npos) << text;
  EXPECT_NE(text.find("output loss = %"), std::string::npos);
}

TEST(Print, RealsRoundTripExactly) {
  Graph g;
  Attrs a;
  a.set("value", 0.1);
  g.nodes.push_back(Node{"constant", {}, a, {DType::f32, {}}, "c"});
  g.meta.set("x", 1e-300);
  g.meta.set("y", 3.0);
  EXPECT_TRUE(parse(print(g)) == g) << print(g);
}

std::string error_of(const std::string& text) {
  try {
    parse(text, "t.ir");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Parse, NamesLineAndColumnOfMalformedText) {
  EXPECT_EQ(error_of(""), "t.ir: empty input, expected the header 'spmd-ir 1'");
  EXPECT_EQ(error_of("spmd-ir 2\n"), "t.ir:1:10: expected the header 'spmd-ir 1'");
  EXPECT_EQ(error_of("spmd-ir 1\n%x = param {init=\"zeros\"} f32[2]\n"),
            "t.ir:2:27: expected ':' before the result type, got 'f32[2]'");
  EXPECT_EQ(error_of("spmd-ir 1\n%x = frobnicate : f32[2]\n"), "t.ir:2:6: unknown op 'frobnicate'");
  EXPECT_EQ(error_of("spmd-ir 1\n%y = neg %x : f32[2]\n"), "t.ir:2:10: value %x is not defined before its use");
  EXPECT_EQ(error_of("spmd-ir 1\n%x = param : f64[2]\n"),
            "t.ir:2:14: unknown element type 'f64' (expected f32 or i32)");
  EXPECT_EQ(error_of("spmd-ir 1\n%x = param {std=1.0.0} : f32[2]\n"), "t.ir:2:17: expected a number, got '1.0.0} : f32'");
}

TEST(Parse, RejectsIllTypedOps) {
  const char* header = "spmd-ir 1\n%a = param : f32[2,3]\n%b = param : f32[4,5]\n";
  EXPECT_EQ(error_of(std::string(header) + "%c = matmul %a, %b : f32[2,5]\n"),
            "t.ir:4:6: matmul: contracting dimensions differ: [2,3] x [4,5]");
  EXPECT_EQ(error_of(std::string(header) + "%c = neg %a : f32[3,2]\n"),
            "t.ir:4:15: declared type f32[3,2] but neg of its operands gives f32[2,3]");
  EXPECT_EQ(error_of(std::string(header) + "%c = add %a : f32[2,3]\n"), "t.ir:4:6: add takes 2 operands, got 1");
  EXPECT_EQ(error_of(std::string(header) + "%a = neg %b : f32[4,5]\n"), "t.ir:4:1: value %a is defined twice");
  EXPECT_EQ(error_of(std::string(header) + "%c = neg %a : f32[2,3]\nupdate %c = %a\n"),
            "t.ir:5:15: only a param or state can be updated, not a neg");
}

}  // namespace
}  // namespace spmd::ir
