// Each op's sharding rule in its compact text form, pinned per op by a golden file:
// tests/ir/golden/sharding/<op>.txt holds one line per example of tests/support/op_cases.cpp,
// "op(operand types) {attributes}: rule". A change to a rule shows up as a diff there.
//
// To regenerate the goldens after an intended change (then review the diff):
//   SPMD_UPDATE_GOLDEN=1 build/tests/ir/ir_tests --gtest_filter='Registry/ShardingRuleGolden.*'
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ir/ops.h"
#include "ir/sharding_rule.h"
#include "tests/support/op_cases.h"

namespace spmd::ir {
namespace {

std::string attr_text(const AttrValue& v) {
  if (auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&v)) {
    std::ostringstream s;
    s << *d;
    return s.str();
  }
  if (auto* s = std::get_if<std::string>(&v)) return "\"" + *s + "\"";
  const auto& list = std::get<std::vector<int64_t>>(v);
  return to_string(Shape(list.begin(), list.end()));
}

// "op(f32[3,5], f32[5,7]) {transpose_b=1}: <rule>"
std::string golden_line(std::string_view op, const testing::OpCase& c) {
  const Node node = testing::case_node(op, c);
  std::vector<TensorType> types;
  std::string line = std::string(op) + "(";
  for (const testing::OperandSpec& s : c.operands) {
    line += (types.empty() ? "" : ", ") + to_string(s.type);
    types.push_back(s.type);
  }
  line += ")";
  std::string attrs;
  for (const auto& [key, value] : c.attrs.all())
    attrs += (attrs.empty() ? "" : ", ") + key + "=" + attr_text(value);
  if (!attrs.empty()) line += " {" + attrs + "}";
  return line + ": " + to_string(sharding_rule(node, types));
}

std::string golden_path(std::string_view op) {
  return std::string(SPMD_GOLDEN_DIR) + "/sharding/" + std::string(op) + ".txt";
}

TEST(ShardingRuleText, MatmulReadsAsItsContraction) {
  testing::OpCase c{{{{DType::f32, {3, 5}}}, {{DType::f32, {5, 7}}}}, {}, {}};
  std::vector<TensorType> types{c.operands[0].type, c.operands[1].type};
  EXPECT_EQ(to_string(sharding_rule(testing::case_node("matmul", c), types)),
            "([i,k],[k,j])->([i,j]) {k reduction}");
}

TEST(ShardingRuleText, AReshapeSplitJoinsItsFactorsAndABroadcastDimensionHasNone) {
  testing::OpCase split{{{{DType::f32, {3, 10}}}}, {}, {}};
  split.attrs.set("shape", std::vector<int64_t>{3, 2, 5});
  EXPECT_EQ(to_string(sharding_rule(testing::case_node("reshape", split), {{split.operands[0].type}})),
            "([i,j*k])->([i,j,k])");
  testing::OpCase bias{{{{DType::f32, {3, 5}}}, {{DType::f32, {1, 5}}}}, {}, {}};
  std::vector<TensorType> types{bias.operands[0].type, bias.operands[1].type};
  EXPECT_EQ(to_string(sharding_rule(testing::case_node("add", bias), types)), "([i,j],[1,j])->([i,j])");
}

std::vector<std::string> registry_ops() {
  std::vector<std::string> names;
  for (const OpDef& def : all_ops()) names.emplace_back(def.name);
  return names;
}

class ShardingRuleGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ShardingRuleGolden, MatchesItsGoldenFile) {
  const std::string& op = GetParam();
  const std::vector<testing::OpCase> cases = testing::op_cases(op);
  ASSERT_FALSE(cases.empty()) << "op '" << op << "' has no examples in tests/support/op_cases.cpp";
  std::string actual;
  for (const testing::OpCase& c : cases) actual += golden_line(op, c) + "\n";
  if (std::getenv("SPMD_UPDATE_GOLDEN")) {
    std::ofstream(golden_path(op)) << actual;
    GTEST_SKIP() << "wrote " << golden_path(op);
  }
  std::ifstream file(golden_path(op));
  ASSERT_TRUE(file) << "no golden file " << golden_path(op) << " (see the top of this test to write it)";
  std::stringstream expected;
  expected << file.rdbuf();
  EXPECT_EQ(actual, expected.str());
}

INSTANTIATE_TEST_SUITE_P(Registry, ShardingRuleGolden, ::testing::ValuesIn(registry_ops()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace spmd::ir
