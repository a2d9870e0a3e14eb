#include "core/json_string.h"

#include <gtest/gtest.h>

#include <string>

namespace streamfit {
namespace {

TEST(JsonStringTest, QuotesAndEscapesWhatJsonRequires) {
  EXPECT_EQ(JsonString(""), "\"\"");
  EXPECT_EQ(JsonString("model-1"), "\"model-1\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString("1\n2\r3\t4"), "\"1\\n2\\r3\\t4\"");
  EXPECT_EQ(JsonString(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(JsonString(std::string(1, '\0')), "\"\\u0000\"");
  EXPECT_EQ(JsonString("caf\xc3\xa9"), "\"caf\xc3\xa9\"");  // UTF-8 as is
}

TEST(JsonStringTest, AppendsToWhatIsThere) {
  std::string line = "{\"event\": ";
  AppendJsonString(line, "x");
  EXPECT_EQ(line, "{\"event\": \"x\"");
}

}  // namespace
}  // namespace streamfit
