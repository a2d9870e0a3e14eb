#include "core/storage/crc32c.h"

#include <gtest/gtest.h>

#include <random>
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

TEST(Crc32cTest, PortableAndDispatchedVersionsAgree) {
  EXPECT_EQ(Crc32cExtendPortable(0, "123456789", 9), 0xE3069283u);
  std::mt19937 rng(5);
  std::string data(4096, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (int trial = 0; trial < 500; ++trial) {
    const size_t start = rng() % 64, n = rng() % (data.size() - start);
    const uint32_t seed = rng();
    ASSERT_EQ(Crc32cExtend(seed, data.data() + start, n),
              Crc32cExtendPortable(seed, data.data() + start, n))
        << "start " << start << " length " << n;
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
