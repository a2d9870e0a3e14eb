#include "core/storage/checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/storage/file_util.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::IsOk;
using ::streamfit::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("ckpt_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Corrupt(const std::string& path, size_t offset) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(offset);
    char c;
    f.get(c);
    f.seekp(offset);
    f.put(static_cast<char>(c ^ 0x01));
  }
  std::filesystem::path dir_;
};

TEST_F(CheckpointTest, WritesAndReadsNewestFirst) {
  CheckpointStore store(dir_.string());
  ASSERT_THAT(store.Write(10, "ten"), IsOk());
  ASSERT_THAT(store.Write(200, "two hundred"), IsOk());
  EXPECT_THAT(*store.List(), ElementsAre(200, 10));
  EXPECT_EQ(*store.Read(10), "ten");
  std::string got;
  auto loaded = store.LoadNewest(
      [&](uint64_t, const std::string& p) {
        got = p;
        return absl::OkStatus();
      },
      nullptr);
  ASSERT_THAT(loaded.status(), IsOk());
  EXPECT_EQ(*loaded, 200u);
  EXPECT_EQ(got, "two hundred");
  EXPECT_FALSE(std::filesystem::exists(store.PathOf(200) + ".tmp"));
}

TEST_F(CheckpointTest, FallsBackFromCorruptNewest) {
  CheckpointStore store(dir_.string());
  ASSERT_THAT(store.Write(10, "ten"), IsOk());
  ASSERT_THAT(store.Write(20, "twenty"), IsOk());
  Corrupt(store.PathOf(20), 22);  // a payload byte
  EXPECT_THAT(store.Read(20).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("checksum")));
  std::vector<std::string> skipped;
  std::string got;
  auto loaded = store.LoadNewest(
      [&](uint64_t, const std::string& p) {
        got = p;
        return absl::OkStatus();
      },
      &skipped);
  ASSERT_THAT(loaded.status(), IsOk());
  EXPECT_EQ(*loaded, 10u);
  EXPECT_EQ(got, "ten");
  EXPECT_THAT(skipped, SizeIs(1));
}

TEST_F(CheckpointTest, FallsBackFromTruncatedNewestAndRefusedOnes) {
  CheckpointStore store(dir_.string());
  ASSERT_THAT(store.Write(1, "one"), IsOk());
  ASSERT_THAT(store.Write(2, "two"), IsOk());
  ASSERT_THAT(store.Write(3, "three"), IsOk());
  std::filesystem::resize_file(store.PathOf(3), 21);
  std::vector<std::string> skipped;
  auto loaded = store.LoadNewest(
      [](uint64_t v, const std::string&) {
        return v == 2 ? absl::DataLossError("refused") : absl::OkStatus();
      },
      &skipped);
  ASSERT_THAT(loaded.status(), IsOk());
  EXPECT_EQ(*loaded, 1u);
  EXPECT_THAT(skipped, SizeIs(2));
}

TEST_F(CheckpointTest, NoneOrNoValidOne) {
  CheckpointStore store(dir_.string());
  auto ok = [](uint64_t, const std::string&) { return absl::OkStatus(); };
  EXPECT_THAT(store.LoadNewest(ok, nullptr).status(),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(store.Write(5, "five"), IsOk());
  Corrupt(store.PathOf(5), 0);
  EXPECT_THAT(store.LoadNewest(ok, nullptr).status(),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(CheckpointTest, PruneKeepsNewest) {
  CheckpointStore store(dir_.string());
  for (uint64_t v : {1, 2, 3, 4}) ASSERT_THAT(store.Write(v, "x"), IsOk());
  auto oldest = store.Prune(2);
  ASSERT_THAT(oldest.status(), IsOk());
  EXPECT_EQ(*oldest, 3u);
  EXPECT_THAT(*store.List(), ElementsAre(4, 3));
}

TEST(FileUtilTest, MapsDiskErrorsToRetryableCodes) {
  EXPECT_THAT(
      FileError(ENOSPC, "write x"),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("write x")));
  EXPECT_THAT(FileError(EFBIG, "w"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(FileError(EROFS, "w"), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(FileError(EIO, "w"), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(FileUtilTest, FramedRoundTripAndDamage) {
  const std::string framed = EncodeFramed("MAGIC001", "payload");
  EXPECT_EQ(*DecodeFramed("MAGIC001", framed, "f"), "payload");
  EXPECT_THAT(DecodeFramed("OTHER001", framed, "f").status(),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(DecodeFramed("MAGIC001", framed.substr(0, framed.size() - 1), "f")
                  .status(),
              StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace streamfit
