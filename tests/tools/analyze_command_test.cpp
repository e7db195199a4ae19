// spmd analyze end to end: the named classes of a GPT, its conflicts, and the time it takes
// on a GPT-3-sized model.
#include <regex>
#include <string>

#include "tests/tools/cli.h"

namespace spmd::testing {
namespace {

bool has_class_row(const std::string& out, const std::string& name) {
  return std::regex_search(out, std::regex("\n  " + name + "( x[0-9]+)? +[0-9]+ +[0-9]+"));
}

TEST(AnalyzeCommand, NamesTheClassesOfGpt) {
  Result r = run("analyze gpt");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"batch", "sequence", "d_model", "d_ff", "heads", "head_dim", "vocab"}) {
    EXPECT_TRUE(has_class_row(r.out, name)) << name << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("%wte[1]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("%layer0.mlp.w_in[1]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("%layer0.attn.wq[1]"), std::string::npos) << r.out;
}

TEST(AnalyzeCommand, GroupsConflictsByClass) {
  Result r = run("analyze gpt:layers=1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("conflicts \\([0-9]+ in [0-9]+ classes\\)"))) << r.out;
  // Attention scores hold the sequence twice; softmax needs its axis whole; layernorm its features.
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\n  sequence +[0-9]+ +dimensions 2 and 3 of %"))) << r.out;
  EXPECT_NE(r.out.find("layernorm %"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("analysis took "), std::string::npos) << r.out;
}

TEST(AnalyzeCommand, AllListsEveryClass) {
  Result grouped = run("analyze gpt");
  Result all = run("analyze gpt --all");
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_NE(all.out.find("\n  d_ff#2 "), std::string::npos) << all.out;
  EXPECT_GT(count_lines(all.out), count_lines(grouped.out));
}

// GPT-3's shape (96 layers, d_model 12288): built, differentiated and analysed in seconds.
TEST(AnalyzeCommand, ScalesToA96LayerModel) {
  Result r = run("analyze gpt:layers=96,d_model=12288,heads=96", /*raw=*/false, /*timeout_s=*/60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("dimension classes \\(([0-9]+)"))) << r.out;
  EXPECT_GT(std::stoi(m[1]), 5);
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\n  heads x96 "))) << r.out;
  EXPECT_NE(r.out.find("analysis took "), std::string::npos) << r.out;
}

}  // namespace
}  // namespace spmd::testing
