#include "server/dataset_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <string>

#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::IsOk;
using ::streamfit::testing::StatusIs;
using ::testing::HasSubstr;

class DatasetStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("datasets_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto store = DatasetStore::Open({dir_.string(), 1 << 30});
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  absl::StatusOr<v1::DatasetInfo> Upload(const std::string& bytes,
                                         const v1::UploadDatasetRequest& spec) {
    auto upload = store_->BeginUpload();
    if (!upload.ok()) return upload.status();
    if (absl::Status s = (*upload)->Append(bytes); !s.ok()) return s;
    return (*upload)->Finish(spec);
  }

  std::filesystem::path dir_;
  std::unique_ptr<DatasetStore> store_;
};

v1::UploadDatasetRequest Named(const std::string& name) {
  v1::UploadDatasetRequest spec;
  spec.set_name(name);
  return spec;
}

TEST_F(DatasetStoreTest, IdenticalBytesUnderAnotherNameKeepBothNames) {
  const std::string csv = "1,2\n3,4\n";
  auto first = Upload(csv, Named("train"));
  auto second = Upload(csv, Named("holdout"));
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  EXPECT_NE(first->id(), second->id());
  EXPECT_EQ(second->name(), "holdout");
  std::vector<std::string> names;
  for (const auto& d : store_->List()) names.push_back(d.name());
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("train", "holdout"));
  // The same bytes under the same name are the same dataset.
  auto again = Upload(csv, Named("train"));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->id(), first->id());
}

TEST_F(DatasetStoreTest, UploadRefusesAnUnknownFormatAndBadNames) {
  v1::UploadDatasetRequest spec;
  spec.set_format(static_cast<v1::DatasetFormat>(9));
  EXPECT_THAT(
      Upload("1,2\n", spec),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("format 9")));
  for (const std::string bad : {"a\nb", "..", "-rf", "a b"}) {
    EXPECT_THAT(
        Upload("1,2\n", Named(bad)),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset name")))
        << bad;
  }
  EXPECT_THAT(Upload("1,2\n", Named("")), IsOk());  // a name is optional
}

TEST_F(DatasetStoreTest, AFullDiskDuringAnUploadIsResourceExhausted) {
  // A file size limit makes writes past it fail with EFBIG, as a full disk
  // fails them with ENOSPC (both RESOURCE_EXHAUSTED, like Observe).
  struct rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limit = old_limit;
  limit.rlim_cur = 64 << 10;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  std::string csv;
  while (csv.size() < (256 << 10)) csv += "1,2,3,4,5,6,7,8\n";
  const absl::StatusOr<v1::DatasetInfo> info = Upload(csv, Named("big"));
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  EXPECT_THAT(info, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_TRUE(store_->List().empty());
}

}  // namespace
}  // namespace streamfit
