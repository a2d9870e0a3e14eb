// PartAssembler (server/kafka/record_parts.h): a record split into parts is
// whole again at its last part, whatever else is read between them, and
// parts that do not continue a record are refused alike on every replica.
#include "server/kafka/record_parts.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "tests/testing/status_matchers.h"

namespace streamfit::kafka {
namespace {

using ::streamfit::testing::IsOk;
using ::streamfit::testing::StatusIs;

v1::LogRecord Record(const std::string& model) {
  v1::LogRecord record;
  record.mutable_delete_model()->set_name(model);
  return record;
}

v1::LogRecordPart Part(const std::string& id, uint32_t index, uint32_t count,
                       const std::string& data) {
  v1::LogRecordPart part;
  part.set_id(id);
  part.set_index(index);
  part.set_count(count);
  part.set_data(data);
  return part;
}

TEST(PartAssemblerTest, InterleavedRecordsAreWholeAtTheirLastParts) {
  const std::string a = Record("a").SerializeAsString();
  const std::string b = Record("model-b").SerializeAsString();
  PartAssembler parts;
  EXPECT_EQ(parts.OldestPending(), std::nullopt);
  ASSERT_THAT(parts.Add({10, 100}, Part("a", 0, 2, a.substr(0, 2))), IsOk());
  ASSERT_THAT(parts.Add({11, 100}, Part("b", 0, 3, b.substr(0, 3))), IsOk());
  ASSERT_THAT(parts.Add({12, 104}, Part("b", 1, 3, b.substr(3, 3))), IsOk());
  EXPECT_EQ(parts.OldestPending()->offset, 10);
  EXPECT_EQ(parts.OldestPending()->record_version, 100u);
  absl::StatusOr<std::optional<v1::LogRecord>> whole =
      parts.Add({13, 104}, Part("a", 1, 2, a.substr(2)));
  ASSERT_THAT(whole, IsOk());
  ASSERT_TRUE(whole->has_value());
  EXPECT_EQ((*whole)->delete_model().name(), "a");
  EXPECT_EQ(parts.OldestPending()->offset, 11);
  whole = parts.Add({14, 104}, Part("b", 2, 3, b.substr(6)));
  ASSERT_THAT(whole, IsOk());
  EXPECT_EQ((*whole)->delete_model().name(), "model-b");
  EXPECT_EQ(parts.OldestPending(), std::nullopt);
}

TEST(PartAssemblerTest, PartsThatContinueNoRecordAreRefused) {
  const std::string a = Record("a").SerializeAsString();
  PartAssembler parts;
  // Its first part was never read (a reader started after it).
  EXPECT_THAT(parts.Add({1, 0}, Part("a", 1, 2, a.substr(2))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // A part skipped drops the record.
  ASSERT_THAT(parts.Add({2, 0}, Part("a", 0, 3, a.substr(0, 1))), IsOk());
  EXPECT_THAT(parts.Add({3, 0}, Part("a", 2, 3, a.substr(2))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(parts.OldestPending(), std::nullopt);
  EXPECT_THAT(parts.Add({4, 0}, Part("a", 3, 3, "")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Bytes that are no LogRecord once whole.
  ASSERT_THAT(parts.Add({5, 0}, Part("x", 0, 2, "\xff")), IsOk());
  EXPECT_THAT(parts.Add({6, 0}, Part("x", 1, 2, "\xff")),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PartAssemblerTest, TheOldestIncompleteRecordGivesWayToANewOne) {
  const std::string a = Record("a").SerializeAsString();
  PartAssembler parts;
  for (size_t i = 0; i <= PartAssembler::kMaxPending; ++i) {
    ASSERT_THAT(parts.Add({static_cast<int64_t>(i), 0},
                          Part(std::to_string(i), 0, 2, a.substr(0, 2))),
                IsOk());
  }
  EXPECT_EQ(parts.OldestPending()->offset, 1);  // record 0 was dropped
  EXPECT_THAT(parts.Add({9, 0}, Part("0", 1, 2, a.substr(2))),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(parts.Add({10, 0}, Part("1", 1, 2, a.substr(2))), IsOk());
}

}  // namespace
}  // namespace streamfit::kafka
