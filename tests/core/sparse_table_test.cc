#include "core/sparse_table.h"

#include <gtest/gtest.h>

namespace streamfit {
namespace {

TEST(SparseTableTest, UntouchedSlotsReadAsAbsent) {
  const SparseTable table(18, 3);
  EXPECT_EQ(table.slots(), 1u << 18);
  EXPECT_EQ(table.Find(12345), nullptr);
}

TEST(SparseTableTest, WritesLandInTheirSlotOnly) {
  SparseTable table(14, 2);
  table.Mutable(5)[1] = 7;
  ASSERT_NE(table.Find(5), nullptr);
  EXPECT_EQ(table.Find(5)[0], 0);
  EXPECT_EQ(table.Find(5)[1], 7);
  EXPECT_EQ(table.Find(6)[0], 0);                 // same block, zeroed
  EXPECT_EQ(table.Find((1 << 14) - 1), nullptr);  // another block
}

TEST(SparseTableTest, CopiesShareBlocksUntilWritten) {
  SparseTable original(16, 1);
  original.Mutable(1)[0] = 1;
  original.Mutable(40000)[0] = 2;
  const SparseTable published = original;
  // Shared: the copy reads the same memory.
  EXPECT_EQ(published.Find(1), original.Find(1));
  original.Mutable(1)[0] = 10;  // copies that block only
  EXPECT_EQ(published.Find(1)[0], 1);
  EXPECT_EQ(original.Find(1)[0], 10);
  EXPECT_NE(published.Find(1), original.Find(1));
  EXPECT_EQ(published.Find(40000), original.Find(40000));
}

TEST(SparseTableTest, SmallTablesUseOneBlock) {
  SparseTable table(3, 1);
  EXPECT_EQ(table.slots(), 8u);
  table.Mutable(7)[0] = 1;
  EXPECT_EQ(table.Find(0)[0], 0);
  EXPECT_EQ(table.Find(7)[0], 1);
}

}  // namespace
}  // namespace streamfit
