// spmd analyze end to end: the named classes of a GPT, its conflicts, the time it takes on a
// GPT-3-sized model, and the same names for a model whose values are named otherwise.
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

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

// `spmd ir MODEL` with every named value renamed by position (%v0, %v1 ...) and the zoo's
// model spec taken out of its meta, written to a file: a model from elsewhere.
std::string renamed_ir_file(const std::string& model) {
  Result r = run("ir " + model);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string text = std::regex_replace(r.out, std::regex(R"(model="[^"]*", )"), "");
  std::map<std::string, std::string> names;
  std::string out;
  const std::regex name(R"(%([A-Za-z_][A-Za-z0-9_.]*))");
  auto last = text.cbegin();
  for (std::sregex_iterator it(text.begin(), text.end(), name), end; it != end; ++it) {
    auto [at, fresh] = names.emplace((*it)[1].str(), "v" + std::to_string(names.size()));
    out.append(last, (*it)[0].first) += "%" + at->second;
    last = (*it)[0].second;
  }
  out.append(last, text.cend());
  std::string path = ::testing::TempDir() + "renamed_" + model.substr(0, 3) + ".ir";
  std::ofstream(path) << out;
  return path;
}

// The rows of the classes table up to their examples (which show the values' names).
std::vector<std::string> class_rows(const std::string& out) {
  std::vector<std::string> rows;
  size_t start = out.find("dimension classes ("), end = out.find("\nconflicts (");
  std::istringstream in(out.substr(start, end - start));
  for (std::string line; std::getline(in, line);) rows.push_back(line.substr(0, line.find('%')));
  return rows;
}

TEST(AnalyzeCommand, NamesTheClassesOfARenamedModelAsTheZoos) {
  for (const char* model : {"gpt:layers=2", "mlp:layers=3"}) {
    std::string path = renamed_ir_file(model);
    ASSERT_EQ(slurp(path).find("%layer0"), std::string::npos);
    Result zoo = run(std::string("analyze ") + model), other = run("analyze " + path);
    ASSERT_EQ(zoo.exit_code, 0) << zoo.err;
    ASSERT_EQ(other.exit_code, 0) << other.err;
    EXPECT_GT(class_rows(zoo.out).size(), 4u) << zoo.out;
    EXPECT_EQ(class_rows(other.out), class_rows(zoo.out)) << other.out;
    EXPECT_TRUE(has_class_row(other.out, std::string(model).rfind("gpt", 0) == 0 ? "heads" : "hidden")) << other.out;
  }
}

}  // namespace
}  // namespace spmd::testing
