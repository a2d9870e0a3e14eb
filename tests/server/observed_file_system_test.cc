// The FileSystem decorator behind the disk metrics: what it counts, how it
// names fsyncs, and that its disk.error log lines are rate limited.
#include "server/metrics/observed_file_system.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <spdlog/sinks/ostream_sink.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "server/logging.h"
#include "tests/testing/fault_file_system.h"

namespace streamfit::metrics {
namespace {

using ::streamfit::testing::FaultFileSystem;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using FaultOp = FaultFileSystem::Op;

// The value of the series `name{label="value"}` (a histogram's count).
double Value(prometheus::Registry& registry, const std::string& name,
             const std::string& label, const std::string& value) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      for (const auto& l : metric.label) {
        if (l.name == label && l.value == value) {
          return family.type == prometheus::MetricType::Histogram
                     ? metric.histogram.sample_count
                     : metric.counter.value;
        }
      }
    }
  }
  return -1;
}

class ObservedFileSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::path(::testing::TempDir()) /
            ("streamfit_observed_fs_" + std::to_string(::getpid())))
               .string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ + "/models/m.1");
    logging::Init(logging::Format::kJson,
                  std::make_shared<spdlog::sinks::ostream_sink_mt>(log_));
  }
  void TearDown() override {
    logging::Init(logging::Format::kText);  // back to stderr
    std::filesystem::remove_all(dir_);
  }
  std::vector<std::string> LogLines() {
    std::vector<std::string> lines =
        absl::StrSplit(log_.str(), '\n', absl::SkipEmpty());
    return lines;
  }

  std::string dir_;
  std::ostringstream log_;
  FaultFileSystem faults_;
  prometheus::Registry registry_;
  absl::Time now_ = absl::FromUnixSeconds(1'000'000);
  ObservedFileSystem fs_{
      &faults_, registry_, {.log_interval = absl::Seconds(10), .clock = [this] {
                              return now_;
                            }}};
};

TEST_F(ObservedFileSystemTest, NamesEachFsyncByTheKindOfFile) {
  EXPECT_STREQ(ObservedFileSystem::FileKind("/d/models/m.1/log-0000.seg"),
               "sample_log");
  EXPECT_STREQ(ObservedFileSystem::FileKind("/d/models/m.1/ckpt-12.ckpt.tmp"),
               "checkpoint");
  EXPECT_STREQ(ObservedFileSystem::FileKind("/d/MANIFEST.tmp"), "manifest");
  EXPECT_STREQ(ObservedFileSystem::FileKind("/d/datasets/tmp-1-2"), "dataset");
  EXPECT_STREQ(ObservedFileSystem::FileKind("/d/jobs/job-1.tmp"),
               "retrain_job");
  EXPECT_STREQ(ObservedFileSystem::FileKind("/d/snapshots/s1.tmp"), "snapshot");
  EXPECT_STREQ(ObservedFileSystem::FileKind("/d/LOCK"), "other");
}

TEST_F(ObservedFileSystemTest, TimesEveryFsyncFailedOrNot) {
  const std::string path = dir_ + "/models/m.1/log-0000.seg";
  auto file = fs_.OpenWritable(path, /*truncate=*/true);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->PWrite(0, "abc").ok());
  EXPECT_TRUE((*file)->Sync().ok());
  faults_.Inject({.op = FaultOp::kSync, .path_contains = "log-"});
  EXPECT_FALSE((*file)->Sync().ok());
  EXPECT_TRUE(fs_.SyncDirectory(dir_).ok());
  EXPECT_EQ(Value(registry_, "streamfit_fsync_duration_seconds", "kind",
                  "sample_log"),
            2);
  EXPECT_EQ(
      Value(registry_, "streamfit_fsync_duration_seconds", "kind", "directory"),
      1);
  EXPECT_EQ(Value(registry_, "streamfit_disk_errors_total", "op", "sync"), 1);
}

TEST_F(ObservedFileSystemTest, CountsDiskErrorsByOpButNotMissingFiles) {
  EXPECT_EQ(Value(registry_, "streamfit_disk_errors_total", "op", "rename"), 0);
  faults_.Inject({.op = FaultOp::kRename, .error = ENOSPC});
  EXPECT_FALSE(fs_.Rename(dir_ + "/a", dir_ + "/b").ok());
  EXPECT_TRUE(absl::IsNotFound(fs_.ReadFile(dir_ + "/absent").status()));
  EXPECT_TRUE(absl::IsNotFound(fs_.Remove(dir_ + "/absent")));
  EXPECT_EQ(Value(registry_, "streamfit_disk_errors_total", "op", "rename"), 1);
  EXPECT_EQ(Value(registry_, "streamfit_disk_errors_total", "op", "read"), 0);
  EXPECT_EQ(Value(registry_, "streamfit_disk_errors_total", "op", "remove"), 0);
  EXPECT_THAT(LogLines(), SizeIs(1));
}

TEST_F(ObservedFileSystemTest, LogsOneLinePerOpPerIntervalWithTheCountLeftOut) {
  faults_.Inject({.op = FaultOp::kOpen, .times = -1});
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(fs_.OpenWritable(dir_ + "/x", false).ok());
  }
  faults_.Inject({.op = FaultOp::kCreateDirectory});
  EXPECT_FALSE(fs_.CreateDirectories(dir_ + "/y").ok());
  std::vector<std::string> lines = LogLines();
  ASSERT_THAT(lines, SizeIs(2));  // one per op
  EXPECT_THAT(lines[0], HasSubstr(R"("event":"disk.error")"));
  EXPECT_THAT(lines[0], HasSubstr(R"("op":"open")"));
  EXPECT_THAT(lines[0], HasSubstr(R"("code":"UNAVAILABLE")"));
  EXPECT_THAT(lines[0], HasSubstr(R"("unlogged":0)"));
  EXPECT_THAT(lines[1], HasSubstr(R"("op":"create_directories")"));

  now_ += absl::Seconds(9);  // still within the interval
  EXPECT_FALSE(fs_.OpenWritable(dir_ + "/x", false).ok());
  EXPECT_THAT(LogLines(), SizeIs(2));
  now_ += absl::Seconds(1);
  EXPECT_FALSE(fs_.OpenWritable(dir_ + "/x", false).ok());
  lines = LogLines();
  ASSERT_THAT(lines, SizeIs(3));
  EXPECT_THAT(lines[2], HasSubstr(R"("op":"open")"));
  EXPECT_THAT(lines[2], HasSubstr(R"("unlogged":3)"));
  EXPECT_EQ(Value(registry_, "streamfit_disk_errors_total", "op", "open"), 5);
}

}  // namespace
}  // namespace streamfit::metrics
