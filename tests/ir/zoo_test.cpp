// Model specs parse with defaults and reject what they do not know; models build with the
// shapes their hyper-parameters say.
#include <gtest/gtest.h>

#include "common/error.h"
#include "ir/models/zoo.h"

namespace spmd::ir {
namespace {

std::string error_of(const std::string& spec) {
  try {
    parse_model_spec(spec);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(ModelSpec, FillsDefaultsAndPrintsCanonically) {
  ModelSpec s = parse_model_spec("gpt:layers=4");
  EXPECT_EQ(s.params.at("layers"), 4);
  EXPECT_EQ(s.params.at("d_model"), 256);
  EXPECT_EQ(s.text(), "gpt:batch=8,d_model=256,heads=4,layers=4,seq=128,vocab=256");
}

TEST(ModelSpec, RejectsUnknownModelsAndHyperParameters) {
  EXPECT_EQ(error_of("resnet"), "unknown model 'resnet' (known: mlp, gpt)");
  EXPECT_EQ(error_of("gpt:depth=3"),
            "model 'gpt': unknown hyper-parameter 'depth' (known: batch, d_model, heads, layers, seq, vocab)");
  EXPECT_EQ(error_of("mlp:layers=x"), "model 'mlp': 'layers=x' needs a positive integer, as layers=4");
  EXPECT_EQ(error_of("mlp:layers=0"), "model 'mlp': 'layers=0' needs a positive integer, as layers=4");
  EXPECT_EQ(error_of("gpt:layers=1,layers=2"), "model 'gpt': 'layers' is given twice");
  EXPECT_THROW(build_model("gpt:d_model=10,heads=4"), Error);
}

TEST(Gpt, HasMegatronShapedParams) {
  Graph g = build_model("gpt:layers=2,d_model=64,heads=4,seq=16,vocab=50,batch=2");
  EXPECT_EQ(g.type(*g.find("layer1.mlp.w_in")).shape, (Shape{64, 256}));
  EXPECT_EQ(g.type(*g.find("layer0.attn.wq")).shape, (Shape{64, 64}));
  EXPECT_EQ(g.type(*g.find("wte")).shape, (Shape{50, 64}));
  EXPECT_EQ(g.type(g.output("loss")).rank(), 0);
  EXPECT_EQ(g.meta.s("task"), "language_model");
}

TEST(Gpt, BuildsHugeModelsWithoutAllocating) {
  // 96 layers of d_model 12288: only the graph is built (a few thousand nodes).
  Graph g = build_model("gpt:layers=96,d_model=12288,heads=96,seq=2048,vocab=50304,batch=8");
  EXPECT_GT(g.size(), 96 * 30);
  EXPECT_EQ(g.type(*g.find("layer95.mlp.w_out")).shape, (Shape{49152, 12288}));
}

}  // namespace
}  // namespace spmd::ir
