#include "core/model/feature_hash.h"

#include <gtest/gtest.h>

namespace streamfit {
namespace {

TEST(FeatureHashTest, MatchesXxHash32ReferenceVector) {
  // XXH32("", seed 0) from the xxHash specification.
  EXPECT_EQ(HashFeatureName(0, ""), 0x02CC5D05u);
}

TEST(FeatureHashTest, FixedNamesMapToFixedSlots) {
  // Pinned values: a change here breaks every saved model's feature map.
  const uint32_t user = HashNamespace("user");
  EXPECT_EQ(user, 0x5b6f3934u);
  EXPECT_EQ(HashFeatureName(user, "alice"), 0xdcbf9ff3u);
  EXPECT_EQ(HashSlot(HashFeatureName(user, "alice"), 18), 237555u);
  const uint32_t index_ns = HashNamespace("");
  EXPECT_EQ(index_ns, 0x819dc862u);
  EXPECT_EQ(HashFeatureIndex(index_ns, 42), 0x0558cad0u);
}

TEST(FeatureHashTest, NamespacesSeparateEqualNames) {
  EXPECT_NE(HashFeatureName(HashNamespace("a"), "x"),
            HashFeatureName(HashNamespace("b"), "x"));
  EXPECT_NE(HashFeatureIndex(HashNamespace(""), 1),
            HashFeatureIndex(HashNamespace(""), 2));
}

TEST(FeatureHashTest, InteractionHashIsVowpalWabbitsCombination) {
  EXPECT_EQ(InteractionHash(3, 5), (3u * 0x1000193u) ^ 5u);
  EXPECT_NE(InteractionHash(3, 5), InteractionHash(5, 3));
  EXPECT_EQ(HashSlot(0xFFFFFFFFu, 4), 15u);
}

}  // namespace
}  // namespace streamfit
