#include "server/dataset_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "core/status_macros.h"
#include "tests/testing/fault_file_system.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::FaultFileSystem;
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

// A store whose file work goes through a FaultFileSystem.
class DatasetStoreFaultTest : public ::testing::Test {
 protected:
  using Op = FaultFileSystem::Op;

  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("datasets_fault_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // A new store on the same directory (what a restart opens), faults
  // cleared.
  void Reopen() {
    store_.reset();
    fs_.Clear();
    auto store = DatasetStore::Open({dir_.string(), 1 << 30, &fs_});
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
  }
  // Uploads `csv` in chunks of `chunk` bytes.
  absl::StatusOr<v1::DatasetInfo> Upload(const std::string& csv,
                                         size_t chunk = 1 << 20) {
    auto upload = store_->BeginUpload();
    if (!upload.ok()) return upload.status();
    for (size_t i = 0; i < csv.size(); i += chunk) {
      RETURN_IF_ERROR((*upload)->Append(csv.substr(i, chunk)));
    }
    return (*upload)->Finish(v1::UploadDatasetRequest());
  }
  std::vector<std::string> Files() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      out.push_back(e.path().filename().string());
    }
    return out;
  }

  std::filesystem::path dir_;
  FaultFileSystem fs_;
  std::unique_ptr<DatasetStore> store_;
};

std::string Csv(int rows, int seed) {
  std::string csv;
  for (int i = 0; i < rows; ++i) {
    csv += std::to_string(i + seed) + ",1,2\n";
  }
  return csv;
}

TEST_F(DatasetStoreFaultTest, AFullDiskDuringAnAppendLeavesNoPartialUpload) {
  fs_.Inject({.op = Op::kWrite,
              .path_contains = "/tmp-",
              .error = ENOSPC,
              .partial_bytes = 100});
  const std::string csv = Csv(2000, 0);
  EXPECT_THAT(Upload(csv, 4096),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(Files(), ::testing::IsEmpty());
  Reopen();
  EXPECT_TRUE(store_->List().empty());
  EXPECT_THAT(Upload(csv, 4096), IsOk());  // space is back
}

TEST_F(DatasetStoreFaultTest, AFailedFsyncOfTheUploadPublishesNothing) {
  fs_.Inject({.op = Op::kSync, .path_contains = "/tmp-", .error = EIO});
  EXPECT_THAT(Upload(Csv(10, 0)), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Files(), ::testing::IsEmpty());
  Reopen();
  EXPECT_TRUE(store_->List().empty());
}

// The metadata is written after the data is renamed into place: a failure
// at any step of it leaves no dataset, now or after a restart.
TEST_F(DatasetStoreFaultTest, AFailedMetadataWriteAtAnyStepPublishesNothing) {
  const struct {
    FaultFileSystem::Fault fault;
    absl::StatusCode code;
  } cases[] = {
      {{.op = Op::kWrite, .path_contains = ".meta.tmp", .error = ENOSPC},
       absl::StatusCode::kResourceExhausted},
      {{.op = Op::kWrite,
        .path_contains = ".meta.tmp",
        .error = ENOSPC,
        .partial_bytes = 3},
       absl::StatusCode::kResourceExhausted},
      {{.op = Op::kSync, .path_contains = ".meta.tmp", .error = EIO},
       absl::StatusCode::kUnavailable},
      {{.op = Op::kRename, .path_contains = ".meta", .error = EIO},
       absl::StatusCode::kUnavailable},
      // After the rename: the .meta is in place, the directory fsync fails.
      {{.op = Op::kSyncDirectory,
        .path_contains = dir_.string(),
        .exact = true,
        .error = EIO},
       absl::StatusCode::kUnavailable},
  };
  int seed = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.fault.path_contains);
    fs_.Inject(c.fault);
    EXPECT_THAT(Upload(Csv(10, ++seed)), StatusIs(c.code));
    EXPECT_EQ(fs_.PendingFaults(), 0);
    EXPECT_TRUE(store_->List().empty());
    EXPECT_THAT(Files(), ::testing::IsEmpty());
    Reopen();
    EXPECT_TRUE(store_->List().empty());
  }
}

// An upload whose fsync is slow holds no lock that another upload, a list
// or a delete needs.
TEST_F(DatasetStoreFaultTest, AnUploadWaitingOnItsFsyncBlocksNoOtherUpload) {
  auto other = Upload(Csv(10, 1));
  ASSERT_THAT(other, IsOk());
  absl::Notification held, release;
  std::atomic<bool> first{true};
  fs_.SetHook([&](Op op, const std::string& path) {
    if (op == Op::kSync && absl::StrContains(path, ".meta.tmp") &&
        first.exchange(false)) {
      held.Notify();
      release.WaitForNotification();
    }
  });
  absl::StatusOr<v1::DatasetInfo> slow = absl::UnknownError("not run");
  std::thread slow_upload([&] { slow = Upload(Csv(10, 2)); });
  ASSERT_TRUE(held.WaitForNotificationWithTimeout(absl::Seconds(30)));
  absl::Notification done;
  absl::StatusOr<v1::DatasetInfo> fast = absl::UnknownError("not run");
  std::thread fast_work([&] {
    fast = Upload(Csv(10, 3));
    EXPECT_EQ(store_->List().size(), 2u);  // `other` and `fast`
    EXPECT_THAT(store_->Delete(other->id()), IsOk());
    done.Notify();
  });
  // Generous: all of it takes milliseconds unless it waits for the held
  // fsync.
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  release.Notify();
  fast_work.join();
  slow_upload.join();
  EXPECT_THAT(fast, IsOk());
  EXPECT_THAT(slow, IsOk());
  EXPECT_EQ(store_->List().size(), 2u);
}

}  // namespace
}  // namespace streamfit
