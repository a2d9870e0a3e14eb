#include "core/storage/sample_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "core/storage/crc32c.h"
#include "core/storage/file_util.h"
#include "tests/testing/fault_file_system.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::IsOk;
using ::streamfit::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// n samples with 2 features whose values encode their version.
ExampleBatch Batch(uint64_t start, size_t n) {
  ExampleBatch b;
  b.num_features = 2;
  for (size_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(start + i);
    const float x[2] = {v, -v};
    b.Add(x, static_cast<double>(v) * 0.5, 1.0f + (i % 3));
  }
  return b;
}

// "start:n" per replayed record, and checks the contents encode versions.
std::vector<std::string> ReplayAll(const SampleLog& log, uint64_t from) {
  std::vector<std::string> out;
  const absl::Status s =
      log.Replay(from, [&](uint64_t start, const ExampleBatch& b) {
        EXPECT_EQ(b.values, Batch(start, b.size()).values);
        EXPECT_EQ(b.labels, Batch(start, b.size()).labels);
        EXPECT_EQ(b.weights, Batch(start, b.size()).weights);
        out.push_back(absl::StrCat(start, ":", b.size()));
        return absl::OkStatus();
      });
  EXPECT_THAT(s, IsOk());
  return out;
}

class SampleLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::path(::testing::TempDir()) /
            ("log_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<SampleLog> Open(LogOpenReport* report = nullptr,
                                  uint64_t segment_bytes = 64 << 20) {
    SampleLog::Options options;
    options.segment_bytes = segment_bytes;
    auto log = SampleLog::Open(dir_, options, report);
    EXPECT_THAT(log.status(), IsOk());
    return log.ok() ? *std::move(log) : nullptr;
  }
  std::vector<std::string> Segments() {
    return *ListFiles(dir_, "log-", ".seg");
  }
  std::string SegmentPath(size_t i) { return dir_ + "/" + Segments()[i]; }

  std::string dir_;
};

TEST_F(SampleLogTest, ReplaysWhatWasAppendedAfterReopen) {
  {
    auto log = Open();
    EXPECT_EQ(*log->Append(0, Batch(0, 3)), 3u);
    EXPECT_EQ(*log->Append(3, Batch(3, 5)), 8u);
    EXPECT_EQ(log->end_version(), 8u);
  }
  LogOpenReport report;
  auto log = Open(&report);
  EXPECT_EQ(report.records, 2u);
  EXPECT_EQ(report.end_version, 8u);
  EXPECT_THAT(report.dropped_reason, IsEmpty());
  EXPECT_THAT(ReplayAll(*log, 0), ::testing::ElementsAre("0:3", "3:5"));
  // A record straddling from_version is given whole; earlier ones are not.
  EXPECT_THAT(ReplayAll(*log, 4), ::testing::ElementsAre("3:5"));
  EXPECT_THAT(ReplayAll(*log, 8), IsEmpty());
  // Appending continues after reopening, in a new segment.
  EXPECT_EQ(*log->Append(8, Batch(8, 1)), 9u);
  EXPECT_THAT(Segments(), SizeIs(2));
}

// Three samples with one dense feature each and 0, 3 and 1 hashed or named
// features, as a hashed-feature model receives.
ExampleBatch MixedBatch() {
  ExampleBatch mixed;
  mixed.num_features = 1;
  const float x0[1] = {0.5f};
  mixed.Add(x0, 1.0);  // no sparse entries
  const uint32_t hashes[3] = {7, 123456789, 42};
  const uint32_t namespaces[3] = {0, 99, 99};
  const float values[3] = {1.0f, -2.5f, 3.0f};
  const float x1[1] = {-1.0f};
  mixed.Add(ExampleView{x1, hashes, namespaces, values}, 2.0, 0.5f);
  const float x2[1] = {2.0f};
  mixed.Add(ExampleView{x2, {hashes, 1}, {namespaces, 1}, {values, 1}}, 3.0);
  return mixed;
}

// The log must give back every feature, not just the dense ones.
TEST_F(SampleLogTest, ReplaysSparseAndNamedFeaturesExactly) {
  const ExampleBatch mixed = MixedBatch();
  ASSERT_EQ(mixed.sparse_offsets, (std::vector<uint32_t>{0, 0, 3, 4}));
  {
    auto log = Open();
    ASSERT_EQ(*log->Append(0, mixed), 3u);
    ASSERT_EQ(*log->Append(3, Batch(3, 2)), 5u);  // dense only, after it
  }
  LogOpenReport report;
  auto log = Open(&report);
  EXPECT_EQ(report.end_version, 5u);
  EXPECT_THAT(report.dropped_reason, IsEmpty());
  std::vector<ExampleBatch> replayed;
  ASSERT_THAT(log->Replay(0,
                          [&](uint64_t, const ExampleBatch& b) {
                            replayed.push_back(b);
                            return absl::OkStatus();
                          }),
              IsOk());
  ASSERT_THAT(replayed, SizeIs(2));
  const ExampleBatch& got = replayed[0];
  EXPECT_EQ(got.num_features, mixed.num_features);
  EXPECT_EQ(got.values, mixed.values);
  EXPECT_EQ(got.labels, mixed.labels);
  EXPECT_EQ(got.weights, mixed.weights);
  EXPECT_EQ(got.sparse_offsets, mixed.sparse_offsets);
  EXPECT_EQ(got.sparse_hashes, mixed.sparse_hashes);
  EXPECT_EQ(got.sparse_namespaces, mixed.sparse_namespaces);
  EXPECT_EQ(got.sparse_values, mixed.sparse_values);
  EXPECT_THAT(replayed[1].sparse_offsets, IsEmpty());
  EXPECT_EQ(replayed[1].values, Batch(3, 2).values);
}

// A record whose checksum holds but whose sparse offsets do not fit is cut
// when the log is opened, not replayed.
TEST_F(SampleLogTest, CutsARecordWithBadSparseOffsets) {
  {
    auto log = Open();
    ASSERT_EQ(*log->Append(0, MixedBatch()), 3u);
  }
  std::string bytes;
  {
    std::ifstream in(SegmentPath(0), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Header 8, payload header 16, dense part 3 x (4 + 8 + 4), entry count 4:
  // then offsets {0, 0, 3, 4}; make the second 5, so they decrease.
  const size_t second_offset = 8 + 16 + 48 + 4 + 4;
  ASSERT_EQ(bytes[second_offset], 0);
  bytes[second_offset] = 5;
  const uint32_t crc = Crc32cExtend(0, bytes.data() + 8, bytes.size() - 8);
  std::memcpy(bytes.data() + 4, &crc, sizeof(crc));
  std::ofstream(SegmentPath(0), std::ios::binary | std::ios::trunc) << bytes;
  LogOpenReport report;
  auto log = Open(&report);
  EXPECT_EQ(report.records, 0u);
  EXPECT_THAT(report.dropped_reason, HasSubstr("bad sparse offsets"));
}

TEST_F(SampleLogTest, RefusesAnAppendBehindItsEnd) {
  auto log = Open();
  ASSERT_THAT(log->Append(0, Batch(0, 3)).status(), IsOk());
  EXPECT_THAT(log->Append(2, Batch(2, 1)).status(),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_EQ(log->end_version(), 3u);
}

TEST_F(SampleLogTest, CutsATornTail) {
  {
    auto log = Open();
    for (uint64_t v = 0; v < 40; v += 4)
      ASSERT_THAT(log->Append(v, Batch(v, 4)).status(), IsOk());
  }
  const auto size = std::filesystem::file_size(SegmentPath(0));
  std::filesystem::resize_file(SegmentPath(0), size - 7);
  LogOpenReport report;
  auto log = Open(&report);
  EXPECT_EQ(report.end_version, 36u);
  EXPECT_EQ(report.records, 9u);
  EXPECT_THAT(report.dropped_reason, HasSubstr("torn record"));
  EXPECT_GT(report.dropped_bytes, 0u);
  EXPECT_THAT(ReplayAll(*log, 0), SizeIs(9));
  // The cut is physical: a later open finds a clean log.
  EXPECT_EQ(*log->Append(36, Batch(36, 2)), 38u);
  log.reset();
  LogOpenReport again;
  log = Open(&again);
  EXPECT_THAT(again.dropped_reason, IsEmpty());
  EXPECT_EQ(again.end_version, 38u);
}

TEST_F(SampleLogTest, CutsAtACorruptRecordAndDropsLaterSegments) {
  {
    auto log = Open(nullptr, /*segment_bytes=*/100);
    for (uint64_t v = 0; v < 30; v += 3)
      ASSERT_THAT(log->Append(v, Batch(v, 3)).status(), IsOk());
  }
  const size_t segments = Segments().size();
  ASSERT_GE(segments, 3u);
  {  // flip a byte inside the second segment's first record payload
    std::fstream f(SegmentPath(1),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x7f');
  }
  LogOpenReport report;
  auto log = Open(&report, 100);
  EXPECT_THAT(report.dropped_reason, HasSubstr("checksum"));
  EXPECT_EQ(report.dropped_segments, segments - 2);
  EXPECT_THAT(Segments(), SizeIs(1));
  const uint64_t end = report.end_version;
  EXPECT_GT(end, 0u);
  EXPECT_LT(end, 30u);
  EXPECT_EQ(log->end_version(), end);
}

TEST_F(SampleLogTest, ReplayFromBeforeItsStartIsDataLoss) {
  {
    auto log = Open(nullptr, 100);
    for (uint64_t v = 0; v < 30; v += 3)
      ASSERT_THAT(log->Append(v, Batch(v, 3)).status(), IsOk());
    ASSERT_THAT(log->RemoveSegmentsBefore(12), IsOk());
    EXPECT_THAT(ReplayAll(*log, 12).front(), "12:3");
    EXPECT_THAT(
        log->Replay(
            0, [](uint64_t, const ExampleBatch&) { return absl::OkStatus(); }),
        StatusIs(absl::StatusCode::kDataLoss, HasSubstr("missing")));
  }
  auto log = Open(nullptr, 100);
  EXPECT_THAT(ReplayAll(*log, 12).front(), "12:3");
}

TEST_F(SampleLogTest, RestartsWhenTheModelIsAhead) {
  auto log = Open();
  ASSERT_THAT(log->Append(0, Batch(0, 3)).status(), IsOk());
  EXPECT_EQ(*log->Append(10, Batch(10, 2)), 12u);
  EXPECT_THAT(ReplayAll(*log, 10), ::testing::ElementsAre("10:2"));
  log.reset();
  LogOpenReport report;
  log = Open(&report);
  EXPECT_EQ(report.first_version, 10u);
  EXPECT_EQ(report.end_version, 12u);
}

TEST_F(SampleLogTest, GroupCommitAcksEveryAppendAfterAnFsync) {
  auto log = Open();  // policy: always
  absl::Mutex mu;
  uint64_t next = 0;
  std::atomic<int> acked{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        uint64_t end;
        {
          absl::MutexLock lock(&mu);  // like the learner's admission lock
          end = *log->Append(next, Batch(next, 2));
          next = end;
        }
        absl::Notification done;
        log->WhenDurable(end, [&](absl::Status s) {
          EXPECT_THAT(s, IsOk());
          ++acked;
          done.Notify();
        });
        done.WaitForNotification();
      }
    });
  }
  for (auto& p : producers) p.join();
  EXPECT_EQ(acked.load(), 200);
  EXPECT_EQ(log->end_version(), 400u);
}

TEST_F(SampleLogTest, ParsesFsyncPolicies) {
  EXPECT_EQ(ParseFsyncPolicy("always")->mode, FsyncPolicy::Mode::kAlways);
  EXPECT_EQ(ParseFsyncPolicy("never")->mode, FsyncPolicy::Mode::kNever);
  auto interval = ParseFsyncPolicy("interval:25");
  ASSERT_THAT(interval.status(), IsOk());
  EXPECT_EQ(interval->mode, FsyncPolicy::Mode::kInterval);
  EXPECT_EQ(interval->interval, absl::Milliseconds(25));
  for (const char* bad : {"", "sometimes", "interval:", "interval:0",
                          "interval:-5", "interval:x"}) {
    EXPECT_THAT(ParseFsyncPolicy(bad).status(),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
}

// --- Disk faults (the failure contract in sample_log.h) ---

class SampleLogFaultTest : public SampleLogTest {
 protected:
  std::unique_ptr<SampleLog> OpenFaulty(uint64_t segment_bytes = 64 << 20) {
    SampleLog::Options options;
    options.segment_bytes = segment_bytes;
    options.file_system = &fs_;
    auto log = SampleLog::Open(dir_, options, nullptr);
    EXPECT_THAT(log.status(), IsOk());
    return log.ok() ? *std::move(log) : nullptr;
  }
  // Appends Batch(start, n) and waits for its durability verdict.
  absl::Status AppendDurably(SampleLog& log, uint64_t start, size_t n) {
    absl::StatusOr<uint64_t> end = log.Append(start, Batch(start, n));
    if (!end.ok()) return end.status();
    absl::Notification done;
    absl::Status status;
    log.WhenDurable(*end, [&](absl::Status s) {
      status = s;
      done.Notify();
    });
    done.WaitForNotification();
    return status;
  }

  static void ExpectReopensAt(SampleLog& log, uint64_t end) {
    absl::StatusOr<uint64_t> reopened = log.Reopen();
    ASSERT_THAT(reopened.status(), IsOk());
    EXPECT_EQ(*reopened, end);
  }

  testing::FaultFileSystem fs_;
};

TEST_F(SampleLogFaultTest, AFailedWriteRefusesTheRecordAndTheLogGoesOn) {
  auto log = OpenFaulty();
  ASSERT_THAT(AppendDurably(*log, 0, 3), IsOk());
  fs_.Inject({.op = testing::FaultFileSystem::Op::kWrite,
              .path_contains = "log-",
              .error = ENOSPC,
              .partial_bytes = 20});  // a short write, then the error
  EXPECT_THAT(log->Append(3, Batch(3, 4)).status(),
              StatusIs(absl::StatusCode::kResourceExhausted));
  ASSERT_THAT(AppendDurably(*log, 3, 2), IsOk());
  log.reset();
  log = Open();
  EXPECT_THAT(ReplayAll(*log, 0), ElementsAre("0:3", "3:2"));
}

TEST_F(SampleLogFaultTest, AFailedFsyncCutsTheUnacknowledgedTailForGood) {
  auto log = OpenFaulty();
  ASSERT_THAT(AppendDurably(*log, 0, 3), IsOk());
  fs_.Inject({.op = testing::FaultFileSystem::Op::kSync,
              .path_contains = "log-",
              .error = EIO});
  EXPECT_THAT(AppendDurably(*log, 3, 4),
              StatusIs(absl::StatusCode::kUnavailable));
  // Failed: refused until reopened at the durable end.
  EXPECT_THAT(log->Append(3, Batch(3, 2)).status(),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(log->health(), StatusIs(absl::StatusCode::kUnavailable));
  ExpectReopensAt(*log, 3);
  EXPECT_THAT(log->health(), IsOk());
  ASSERT_THAT(AppendDurably(*log, 3, 2), IsOk());
  log.reset();
  // The refused record is gone from the disk, not only from memory.
  log = Open();
  EXPECT_THAT(ReplayAll(*log, 0), ElementsAre("0:3", "3:2"));
}

TEST_F(SampleLogFaultTest, AFailedSegmentRollIsCutLikeAFailedFsync) {
  auto log = OpenFaulty(/*segment_bytes=*/1);  // every record rolls
  ASSERT_THAT(AppendDurably(*log, 0, 3), IsOk());
  // The new segment's directory entry cannot be made durable.
  fs_.Inject({.op = testing::FaultFileSystem::Op::kSyncDirectory,
              .path_contains = dir_,
              .error = EIO});
  EXPECT_THAT(AppendDurably(*log, 3, 4),
              StatusIs(absl::StatusCode::kUnavailable));
  ExpectReopensAt(*log, 3);
  ASSERT_THAT(AppendDurably(*log, 3, 1), IsOk());
  log.reset();
  log = Open();
  EXPECT_THAT(ReplayAll(*log, 0), ElementsAre("0:3", "3:1"));
  EXPECT_THAT(Segments(), SizeIs(2));
}

TEST_F(SampleLogFaultTest, AFailedFsyncOfTheOldSegmentAtARollIsCut) {
  auto log = OpenFaulty(/*segment_bytes=*/100);
  ASSERT_THAT(AppendDurably(*log, 0, 3), IsOk());
  // Two records land in the first segment's tail and the next segment
  // before one sync covers them; the old segment's fsync fails.
  fs_.Inject({.op = testing::FaultFileSystem::Op::kSync,
              .path_contains = NumberedFileName("log-", 0, ".seg"),
              .error = EIO});
  ASSERT_THAT(log->Append(3, Batch(3, 2)).status(), IsOk());
  ASSERT_THAT(log->Append(5, Batch(5, 20)).status(), IsOk());
  absl::Notification done;
  absl::Status status;
  log->WhenDurable(25, [&](absl::Status s) {
    status = s;
    done.Notify();
  });
  done.WaitForNotification();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable));
  ExpectReopensAt(*log, 3);
  log.reset();
  log = Open();
  EXPECT_THAT(ReplayAll(*log, 0), ElementsAre("0:3"));
}

TEST_F(SampleLogFaultTest, WhenEvenTheCutFailsTheOutcomeIsReportedUnknown) {
  auto log = OpenFaulty();
  ASSERT_THAT(AppendDurably(*log, 0, 3), IsOk());
  fs_.Inject({.op = testing::FaultFileSystem::Op::kSync,
              .path_contains = "log-",
              .error = EIO,
              .times = -1});
  EXPECT_THAT(AppendDurably(*log, 3, 4),
              StatusIs(absl::StatusCode::kUnknown, HasSubstr("unknown")));
  EXPECT_THAT(log->Reopen().status(), StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace streamfit
