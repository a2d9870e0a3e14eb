#include "server/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

namespace streamfit::logging {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

TEST(LoggingTest, FormatsTextAsMessageThenKeyValues) {
  EXPECT_EQ(FormatEvent(Format::kText, "model.create", "created model 'm'",
                        {{"model", "m"}, {"version", 3}, {"peer", "a b"}}),
            "created model 'm' event=model.create model=m version=3 "
            "peer=\"a b\"");
}

TEST(LoggingTest, FormatsJsonWithNumbersUnquotedAndStringsEscaped) {
  EXPECT_EQ(FormatEvent(Format::kJson, "model.delete", "say \"hi\"\n",
                        {{"model", "a\\b"}, {"seconds", 1.5}, {"ok", true}}),
            R"("event":"model.delete","msg":"say \"hi\"\n",)"
            R"("model":"a\\b","seconds":1.5,"ok":true)");
}

TEST(LoggingTest, EscapesControlCharactersInJson) {
  EXPECT_THAT(FormatEvent(Format::kJson, "e", std::string("a\x01", 2), {}),
              HasSubstr(R"("msg":"a\u0001")"));
}

TEST(LoggingTest, WritesOneJsonObjectPerLineWithTimeAndLevel) {
  std::ostringstream out;
  Init(Format::kJson, std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  Warning("disk.error", "fsync failed", {{"model", "m"}});
  Init(Format::kText);  // back to stderr for the other tests
  const std::string line = out.str();
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_THAT(line, MatchesRegex(R"(\{"time":"[-0-9T:.]+Z","level":"warning",)"
                                 R"("event":"disk.error","msg":"fsync failed",)"
                                 R"("model":"m"\}.)"));
}

TEST(LoggingTest, RejectsUnknownFormats) {
  EXPECT_TRUE(ParseFormat("json").ok());
  EXPECT_TRUE(ParseFormat("text").ok());
  EXPECT_FALSE(ParseFormat("xml").ok());
}

}  // namespace
}  // namespace streamfit::logging
