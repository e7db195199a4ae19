// Data sources: deterministic per (seed, step), in range, and errors for bad files.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "common/error.h"
#include "ir/models/zoo.h"
#include "runtime/data.h"

namespace spmd::runtime {
namespace {

struct Buffers {
  std::vector<int32_t> a, b;
  std::vector<float> f;
};

Feeds lm_feeds(Buffers& buf, const ir::Graph& g) {
  ir::TensorType t = g.type(*g.find("tokens"));
  buf.a.assign(t.numel(), -1);
  buf.b.assign(t.numel(), -1);
  return {{"tokens", whole({t, buf.a.data()})}, {"targets", whole({t, buf.b.data()})}};
}

TEST(LanguageModelData, TargetsAreTokensShiftedByOneAndDeterministic) {
  ir::Graph g = ir::build_model("gpt:seq=16,batch=3,vocab=256,d_model=8,heads=2,layers=1");
  Buffers x, y;
  auto src = make_data_source(g, 5);
  src->fill(7, lm_feeds(x, g));
  make_data_source(g, 5)->fill(7, lm_feeds(y, g));
  EXPECT_EQ(x.a, y.a);
  for (int r = 0; r < 3; ++r) {
    for (int s = 0; s + 1 < 16; ++s) EXPECT_EQ(x.b[r * 16 + s], x.a[r * 16 + s + 1]);
  }
  src->fill(8, lm_feeds(y, g));
  EXPECT_NE(x.a, y.a);
  EXPECT_EQ(src->items_per_step(), 48);
}

TEST(LanguageModelData, FoldsBytesIntoASmallVocabulary) {
  ir::Graph g = ir::build_model("gpt:seq=32,batch=4,vocab=7,d_model=8,heads=2,layers=1");
  Buffers x;
  make_data_source(g, 0)->fill(0, lm_feeds(x, g));
  for (int32_t t : x.a) {
    EXPECT_GE(t, 0);
    EXPECT_LT(t, 7);
  }
}

TEST(LanguageModelData, RejectsMissingAndShortFiles) {
  ir::Graph g = ir::build_model("gpt:seq=16,batch=1,d_model=8,heads=2,layers=1");
  g.meta.set("data", std::string("/nonexistent/file.txt"));
  EXPECT_THROW(make_data_source(g, 0), Error);
  std::string path = ::testing::TempDir() + "short.txt";
  std::ofstream(path) << "too short";
  g.meta.set("data", path);
  try {
    make_data_source(g, 0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fewer than seq+1 = 17"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

TEST(ClassificationData, LabelsAreInRangeAndUseEveryClass) {
  ir::Graph g = ir::build_model("mlp:batch=256,classes=4,features=8");
  ir::TensorType xt = g.type(*g.find("features")), lt = g.type(*g.find("labels"));
  std::vector<float> x(xt.numel());
  std::vector<int32_t> labels(lt.numel());
  make_data_source(g, 1)->fill(0, {{"features", whole({xt, x.data()})}, {"labels", whole({lt, labels.data()})}});
  std::vector<int> counts(4);
  for (int32_t l : labels) counts.at(l)++;
  for (int c : counts) EXPECT_GT(c, 20);
}

// Features and labels may be sharded differently (one feed split, the other whole): a
// row's label is still its point's, whichever feed holds the row.
TEST(ClassificationData, ShardsOfEitherFeedAreThoseRowsOfTheWholeBatch) {
  ir::Graph g = ir::build_model("mlp:batch=8,classes=3,features=4");
  ir::TensorType xt = g.type(*g.find("features")), lt = g.type(*g.find("labels"));
  std::vector<float> x(xt.numel());
  std::vector<int32_t> labels(lt.numel());
  auto src = make_data_source(g, 3);
  src->fill(2, {{"features", whole({xt, x.data()})}, {"labels", whole({lt, labels.data()})}});
  std::vector<float> some_x(4 * 4);
  std::vector<int32_t> some_labels(5, -1);
  src->fill(2, {{"features", {{{ir::DType::f32, {4, 4}}, some_x.data()}, 0, 4}},
                {"labels", {{{ir::DType::i32, {5}}, some_labels.data()}, 3, 5}}});
  EXPECT_EQ(some_x, std::vector<float>(x.begin(), x.begin() + 16));
  EXPECT_EQ(some_labels, std::vector<int32_t>(labels.begin() + 3, labels.end()));
  std::vector<int32_t> only_labels(2, -1);
  src->fill(2, {{"labels", {{{ir::DType::i32, {2}}, only_labels.data()}, 6, 2}}});
  EXPECT_EQ(only_labels, std::vector<int32_t>(labels.begin() + 6, labels.end()));
}

TEST(LanguageModelData, AShardOfRowsIsThoseRowsOfTheWholeBatch) {
  ir::Graph g = ir::build_model("gpt:seq=8,batch=6,vocab=64,d_model=8,heads=2,layers=1");
  Buffers all;
  auto src = make_data_source(g, 2);
  src->fill(3, lm_feeds(all, g));
  ir::TensorType rows{ir::DType::i32, {2, 8}};
  std::vector<int32_t> tokens(16), targets(16);
  src->fill(3, {{"tokens", {{rows, tokens.data()}, 4, 2}}, {"targets", {{rows, targets.data()}, 4, 2}}});
  EXPECT_EQ(tokens, std::vector<int32_t>(all.a.begin() + 32, all.a.end()));
  EXPECT_EQ(targets, std::vector<int32_t>(all.b.begin() + 32, all.b.end()));
}

TEST(SyntheticCorpus, IsFixedText) {
  EXPECT_EQ(synthetic_corpus(100), synthetic_corpus(100));
  EXPECT_EQ(synthetic_corpus(1000).size(), 1000u);
  EXPECT_NE(synthetic_corpus(1000).find(".\n"), std::string::npos);
}

}  // namespace
}  // namespace spmd::runtime
