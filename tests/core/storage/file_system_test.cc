#include "core/storage/file_system.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/storage/file_util.h"
#include "tests/testing/fault_file_system.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::FaultFileSystem;
using ::streamfit::testing::IsOk;
using ::streamfit::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class FileSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::path(::testing::TempDir()) /
            ("fs_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
};

TEST_F(FileSystemTest, LockFileIsExclusiveUntilReleased) {
  FileSystem* fs = DefaultFileSystem();
  const std::string path = dir_ + "/LOCK";
  auto first = fs->LockFile(path);
  ASSERT_THAT(first.status(), IsOk());
  // flock locks belong to an open file description: a second open of the
  // same file, even in this process, is refused as another process would be.
  EXPECT_THAT(fs->LockFile(path).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("another process")));
  first->reset();
  EXPECT_THAT(fs->LockFile(path).status(), IsOk());
}

TEST_F(FileSystemTest, WritesReadsListsAndRemoves) {
  FileSystem* fs = DefaultFileSystem();
  ASSERT_THAT(WriteFileAtomically(dir_ + "/a", "alpha", fs), IsOk());
  ASSERT_THAT(fs->CreateDirectories(dir_ + "/sub/deeper"), IsOk());
  EXPECT_THAT(*fs->ListDirectory(dir_), UnorderedElementsAre("a", "sub"));
  EXPECT_EQ(*fs->ReadFile(dir_ + "/a"), "alpha");
  EXPECT_EQ(*fs->FileSize(dir_ + "/a"), 5u);
  EXPECT_THAT(fs->ReadFile(dir_ + "/missing").status(),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(fs->Remove(dir_ + "/a"), IsOk());
  EXPECT_THAT(fs->Remove(dir_ + "/a"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(fs->RemoveAll(dir_ + "/sub"), IsOk());
  EXPECT_THAT(*fs->ListDirectory(dir_), IsEmpty());
}

TEST_F(FileSystemTest, AFailedAtomicWriteLeavesTheOldFileAndNoTemporary) {
  FaultFileSystem fs;
  const std::string path = dir_ + "/file";
  ASSERT_THAT(WriteFileAtomically(path, "old", &fs), IsOk());
  for (FaultFileSystem::Op op :
       {FaultFileSystem::Op::kOpen, FaultFileSystem::Op::kWrite,
        FaultFileSystem::Op::kSync, FaultFileSystem::Op::kRename}) {
    fs.Inject({.op = op, .path_contains = "file", .error = ENOSPC});
    EXPECT_THAT(WriteFileAtomically(path, "new contents", &fs),
                StatusIs(absl::StatusCode::kResourceExhausted));
    EXPECT_EQ(*fs.ReadFile(path), "old");
    EXPECT_THAT(*fs.ListDirectory(dir_), UnorderedElementsAre("file"));
  }
  // A short write then EIO: the same.
  fs.Inject({.op = FaultFileSystem::Op::kWrite,
             .path_contains = "file",
             .error = EIO,
             .partial_bytes = 4});
  EXPECT_THAT(WriteFileAtomically(path, "new contents", &fs),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(*fs.ReadFile(path), "old");
  EXPECT_THAT(*fs.ListDirectory(dir_), UnorderedElementsAre("file"));
}

}  // namespace
}  // namespace streamfit
