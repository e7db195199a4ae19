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

// The message of parsing `text`, as json_error_text gives it.
std::string parse_message(const std::string& text) {
  try {
    [[maybe_unused]] const nlohmann::json parsed = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return json_error_text(e, text);
  }
  return "";
}

// A number beyond a double gets nlohmann's message with no position: its line and column
// are added, those of the number as a value (not as a key or inside a longer number).
TEST(JsonErrorText, ANumberBeyondADoubleIsPlaced) {
  EXPECT_EQ(parse_message("{\"1e999\": \"11e999\",\n \"b\": [1e999, 2]}"),
            "[json.exception.out_of_range.406] number overflow parsing '1e999' at line 2, column 8");
  EXPECT_EQ(parse_message("{\"a\": 1,\n\n  \"b\":-1e999}"),
            "[json.exception.out_of_range.406] number overflow parsing '-1e999' at line 3, column 7");
}

TEST(JsonErrorText, ASyntaxErrorKeepsItsOwnPosition) {
  const std::string message = parse_message("{\"a\": [1,");
  EXPECT_NE(message.find("at line 1, column 10"), std::string::npos) << message;
  EXPECT_EQ(message.find("at line 1, column 10", message.find("at line 1, column 10") + 1), std::string::npos);
}

}  // namespace
}  // namespace spmd::partitioner
