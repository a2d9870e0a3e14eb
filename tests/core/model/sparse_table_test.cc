#include "core/model/sparse_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <random>
#include <utility>
#include <vector>

namespace streamfit {
namespace {

TEST(SparseTableTest, UntouchedSlotsReadAsAbsent) {
  const SparseTable table(18, 3);
  EXPECT_EQ(table.slots(), 1u << 18);
  EXPECT_EQ(table.Find(12345), nullptr);
  EXPECT_TRUE(table.empty());
}

TEST(SparseTableTest, WritesLandInTheirSlotOnly) {
  SparseTable table(14, 2);
  table.Mutable(5)[1] = 7;
  EXPECT_FALSE(table.empty());
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

TEST(SparseTableTest, ReusesAReleasedBufferInsteadOfCopyingTheBlock) {
  SparseTable table(16, 1);
  table.Mutable(1)[0] = 1;
  const double* first = table.Find(1);
  {
    const SparseTable published = table;
    table.Mutable(1)[0] = 2;  // no spare yet: a full copy of the block
    EXPECT_NE(table.Find(1), first);
    EXPECT_EQ(published.Find(1)[0], 1);
  }
  {
    const SparseTable published = table;
    // The first buffer is free again: it is brought up to date (slot 1) and
    // written, instead of copying the block.
    table.Mutable(2)[0] = 3;
    EXPECT_EQ(table.Find(1), first);
    EXPECT_EQ(table.Find(1)[0], 2);
    EXPECT_EQ(table.Find(2)[0], 3);
    EXPECT_EQ(published.Find(1)[0], 2);
    EXPECT_EQ(published.Find(2)[0], 0);
    // While a copy still reads the spare buffer, it is not reused.
    const SparseTable held = table;
    const SparseTable next = table;
    table.Mutable(3)[0] = 4;
    EXPECT_EQ(held.Find(3)[0], 0);
    EXPECT_EQ(published.Find(2)[0], 0);
    EXPECT_EQ(table.Find(3)[0], 4);
  }
}

// Random writes with copies taken and released at random, as a learner
// publishing and readers holding states: every copy keeps exactly the values
// it was taken with, and the table always holds every write.
TEST(SparseTableTest, CopiesKeepTheirValuesWhileTheWriterSwitchesBuffers) {
  constexpr uint32_t kBits = 14, kPerSlot = 2;
  const size_t n = size_t{1} << kBits;
  SparseTable table(kBits, kPerSlot);
  std::vector<double> truth(n * kPerSlot, 0.0);
  struct Held {
    SparseTable copy;
    std::vector<double> values;
  };
  std::deque<Held> held;
  std::mt19937 rng(5);
  std::uniform_int_distribution<uint32_t> any_slot(0, n - 1);
  // A few hot slots, as in real feature streams, and the rest scattered.
  std::uniform_int_distribution<uint32_t> hot_slot(0, 31);
  const auto matches = [&](const SparseTable& t,
                           const std::vector<double>& values) {
    for (size_t slot = 0; slot < n; ++slot) {
      const double* v = t.Find(static_cast<uint32_t>(slot));
      for (uint32_t k = 0; k < kPerSlot; ++k) {
        if ((v == nullptr ? 0.0 : v[k]) != values[slot * kPerSlot + k]) {
          return false;
        }
      }
    }
    return true;
  };
  for (int round = 0; round < 200; ++round) {
    const int writes = 1 + static_cast<int>(rng() % 300);
    for (int w = 0; w < writes; ++w) {
      const uint32_t slot = rng() % 2 ? hot_slot(rng) : any_slot(rng);
      const uint32_t k = rng() % kPerSlot;
      const double value = round * 1000.0 + w;
      table.Mutable(slot)[k] = value;
      truth[size_t{slot} * kPerSlot + k] = value;
    }
    held.push_back({table, truth});                        // publish
    while (held.size() > 1 + rng() % 3) held.pop_front();  // readers leave
    ASSERT_TRUE(matches(table, truth)) << "round " << round;
    for (const Held& h : held) {
      ASSERT_TRUE(matches(h.copy, h.values)) << "round " << round;
    }
  }
}

// A write through a table goes to memory no copy reads, however the table
// and its copies were made: moved, assigned, copied from a copy.
TEST(SparseTableTest, MovesAndAssignmentsKeepCopiesIntact) {
  SparseTable table(16, 1);
  table.Mutable(1)[0] = 1;
  SparseTable moved = std::move(table);
  const SparseTable copy = moved;
  moved.Mutable(1)[0] = 2;
  EXPECT_EQ(copy.Find(1)[0], 1);

  SparseTable assigned(16, 1);
  assigned.Mutable(1)[0] = 7;  // owns its block before the assignment
  assigned = moved;            // now shares moved's
  assigned.Mutable(1)[0] = 3;
  EXPECT_EQ(moved.Find(1)[0], 2);
  moved.Mutable(1)[0] = 4;
  EXPECT_EQ(assigned.Find(1)[0], 3);

  const SparseTable copy_of_copy = copy;
  SparseTable move_assigned(16, 1);
  move_assigned = std::move(moved);
  const SparseTable held = move_assigned;
  move_assigned.Mutable(1)[0] = 5;
  EXPECT_EQ(held.Find(1)[0], 4);
  EXPECT_EQ(copy_of_copy.Find(1)[0], 1);
  EXPECT_EQ(copy.Find(1)[0], 1);
  EXPECT_EQ(move_assigned.Find(1)[0], 5);
}

// A whole block written at once is owned by the writer and counted as
// written: copies keep their values, and a later switch back to the buffer a
// copy held brings every slot of the block up to date.
TEST(SparseTableTest, MutableBlockWritesEverySlotOfTheBlock) {
  for (uint32_t bits : {3u, 14u}) {
    SparseTable table(bits, 2);
    const size_t block_slots = size_t{1} << std::min(bits, 12u);
    const uint32_t slot = static_cast<uint32_t>(table.slots() - 1);
    table.Mutable(slot)[0] = 1;
    SparseTable published = table;
    double* values = table.MutableBlock(slot);
    EXPECT_EQ(values + 2 * (slot % block_slots), table.Find(slot));
    for (size_t s = 0; s < block_slots; ++s) values[2 * s + 1] = 5;
    EXPECT_EQ(published.Find(slot)[0], 1);
    EXPECT_EQ(published.Find(slot)[1], 0);
    published = SparseTable();  // the old buffer is free again
    const SparseTable next = table;
    table.Mutable(slot)[0] = 2;  // switches back to it, up to date
    const uint32_t first = static_cast<uint32_t>(slot - slot % block_slots);
    for (uint32_t s = first; s <= slot; ++s) {
      EXPECT_EQ(table.Find(s)[1], 5) << bits << " " << s;
      EXPECT_EQ(next.Find(s)[1], 5) << bits << " " << s;
    }
    EXPECT_EQ(table.Find(slot)[0], 2);
    EXPECT_EQ(next.Find(slot)[0], 1);
  }
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
