#include "core/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace streamfit {
namespace {

TEST(Crc32cTest, MatchesKnownValues) {
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  const std::string data = "the sample log is the truth; models are views";
  for (size_t cut = 0; cut <= data.size(); ++cut) {
    EXPECT_EQ(Crc32cExtend(Crc32cExtend(0, data.data(), cut), data.data() + cut,
                           data.size() - cut),
              Crc32c(data))
        << cut;
  }
}

TEST(Crc32cTest, DetectsOneFlippedBit) {
  std::string data(1000, 'x');
  const uint32_t crc = Crc32c(data);
  data[517] ^= 0x10;
  EXPECT_NE(Crc32c(data), crc);
}

}  // namespace
}  // namespace streamfit
