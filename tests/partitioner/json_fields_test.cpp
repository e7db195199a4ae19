// Whole numbers read from our JSON files (plans, tactics, meshes, manifests): what nlohmann's
// get<int>() would truncate or wrap is refused, naming the field and the range.
#include <gtest/gtest.h>

#include "partitioner/json_fields.h"

namespace spmd::partitioner {
namespace {

using nlohmann::ordered_json;

std::string refusal(const ordered_json& j, int least, int most) {
  try {
    whole_number<int>(j, "dim", least, most);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(WholeNumber, ReadsWholeNumbersInRange) {
  EXPECT_EQ(whole_number<int>(ordered_json(3), "dim", 0, 10), 3);
  EXPECT_EQ(whole_number<int>(ordered_json(4.0), "dim", 0, 10), 4);
  EXPECT_EQ(whole_number<int64_t>(ordered_json(-7), "step"), -7);
  EXPECT_EQ(whole_number<uint64_t>(ordered_json(18446744073709551615ull), "seed"), 18446744073709551615ull);
}

TEST(WholeNumber, RefusesWhatGetWouldTruncateOrWrap) {
  EXPECT_EQ(refusal(ordered_json(4294967298ull), 0, 100), "dim must be a whole number from 0 to 100, got 4294967298");
  EXPECT_EQ(refusal(ordered_json(1.5), 0, 100), "dim must be a whole number from 0 to 100, got 1.5");
  EXPECT_EQ(refusal(ordered_json(-1), 0, 100), "dim must be a whole number from 0 to 100, got -1");
  EXPECT_EQ(refusal(ordered_json("2"), 0, 100), "dim must be a whole number from 0 to 100, got \"2\"");
  EXPECT_EQ(refusal(ordered_json(1e300), 0, 100), "dim must be a whole number from 0 to 100, got 1e+300");
  EXPECT_NE(refusal(ordered_json(nullptr), 0, 100), "");
  EXPECT_THROW(whole_number<uint64_t>(ordered_json(-1), "bytes"), Error);
  EXPECT_THROW(whole_number<int64_t>(ordered_json(18446744073709551615ull), "step"), Error);
}

}  // namespace
}  // namespace spmd::partitioner
