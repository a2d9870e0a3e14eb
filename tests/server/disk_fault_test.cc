// Disk faults at each step of the durable path, through the FileSystem seam:
// what the client sees, what a restart recovers. Each test is a row of the
// table in docs/ARCHITECTURE.md ("Disk faults").
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "tests/server/fault_server_fixture.h"

namespace streamfit::testing {
namespace {

using Op = FaultFileSystem::Op;

class DiskFaultTest : public FaultServerTest {};

TEST_F(DiskFaultTest, RecordWriteFailureRefusesTheBatchWhichIsNeverApplied) {
  Start();
  ASSERT_TRUE(CreateModel("m").ok());
  ASSERT_TRUE(ObserveRange(0, 20).ok());
  fs_.Inject({.op = Op::kWrite, .path_contains = "/log-", .error = ENOSPC});
  EXPECT_EQ(ObserveRange(20, 30).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(GetModel("m")->model_version(), 20u);
  ASSERT_TRUE(ObserveRange(30, 40).ok());
  const std::string before = State("m");
  Restart();
  EXPECT_EQ(State("m"), before);
  EXPECT_EQ(before, Reference({{0, 20}, {30, 40}}));
}

TEST_F(DiskFaultTest, FsyncFailureRefusesTheBatchNowAndAfterARestart) {
  Start();
  ASSERT_TRUE(CreateModel("m").ok());
  ASSERT_TRUE(ObserveRange(0, 20).ok());
  fs_.Inject({.op = Op::kSync, .path_contains = "/log-", .error = EIO});
  EXPECT_EQ(ObserveRange(20, 30).error_code(), grpc::StatusCode::UNAVAILABLE);
  // Never applied, Predict's state included.
  EXPECT_EQ(GetModel("m")->model_version(), 20u);
  // The learner drops the refused batch from its admissions on its own
  // thread, which may run after the error reached the client.
  uint64_t admitted = 0;
  for (int i = 0; i < 400; ++i) {
    admitted = GetModel("m")->freshness().admitted_version();
    if (admitted == 20) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(admitted, 20u);
  // The learner reopens the log at its durable end; Observe works again.
  ASSERT_TRUE(ObserveOnceReopened(30, 40).ok());
  EXPECT_EQ(GetModel("m")->model_version(), 30u);
  const std::string before = State("m");
  Restart();
  EXPECT_EQ(State("m"), before);
  EXPECT_EQ(before, Reference({{0, 20}, {30, 40}}));
}

TEST_F(DiskFaultTest, SegmentRollFailureRefusesTheBatchNowAndAfterARestart) {
  storage_.segment_bytes = 1;  // every record starts a segment
  Start();
  ASSERT_TRUE(CreateModel("m").ok());
  ASSERT_TRUE(ObserveRange(0, 20).ok());
  // The new segment's directory entry cannot be made durable.
  fs_.Inject(
      {.op = Op::kSyncDirectory, .path_contains = "/models/m.", .error = EIO});
  EXPECT_EQ(ObserveRange(20, 30).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(GetModel("m")->model_version(), 20u);
  ASSERT_TRUE(ObserveOnceReopened(30, 40).ok());
  const std::string before = State("m");
  Restart();
  EXPECT_EQ(State("m"), before);
  EXPECT_EQ(before, Reference({{0, 20}, {30, 40}}));
}

TEST_F(DiskFaultTest, CheckpointWriteFailureLosesNothingAcknowledged) {
  storage_.checkpoint_every_samples = 10;
  Start();
  ASSERT_TRUE(CreateModel("m").ok());
  fs_.Inject(
      {.op = Op::kSync, .path_contains = "/ckpt-", .error = EIO, .times = -1});
  ASSERT_TRUE(ObserveRange(0, 20).ok());
  // Wait (bounded) until the checkpointer has tried and failed.
  for (int i = 0; i < 400 && fs_.Hits(Op::kSync, "/ckpt-") == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(25));
  }
  ASSERT_GT(fs_.Hits(Op::kSync, "/ckpt-"), 0);
  ASSERT_TRUE(ObserveRange(20, 40).ok());
  const std::string before = State("m");
  // The final checkpoint fails too: the restart replays the whole log.
  server_->Shutdown(absl::Seconds(2));
  server_.reset();
  fs_.Clear();
  Start();
  EXPECT_EQ(State("m"), before);
}

TEST_F(DiskFaultTest, ManifestWriteFailureRefusesCreateNowAndAfterARestart) {
  Start();
  // The rename happens; the directory fsync after it fails.
  fs_.Inject({.op = Op::kSyncDirectory,
              .path_contains = data_dir_,
              .exact = true,
              .error = EIO});
  EXPECT_EQ(CreateModel("m").error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(GetModel("m").status().code(), absl::StatusCode::kNotFound);
  Restart();
  EXPECT_EQ(GetModel("m").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(CreateModel("m").ok());
}

TEST_F(DiskFaultTest, ManifestWriteFailureRefusesDeleteNowAndAfterARestart) {
  Start();
  ASSERT_TRUE(CreateModel("m").ok());
  ASSERT_TRUE(ObserveRange(0, 20).ok());
  fs_.Inject({.op = Op::kRename, .path_contains = "/MANIFEST", .error = EIO});
  EXPECT_EQ(DeleteModel("m").error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(ObserveRange(20, 30).ok());  // still serving
  Restart();
  EXPECT_EQ(GetModel("m")->model_version(), 30u);
}

// A model's Create or Delete waiting on a slow disk (200 ms per fsync) must
// not delay Predict on another model: lookups never wait on disk work.
TEST_F(DiskFaultTest, SlowDiskWorkOfCreateAndDeleteDoesNotDelayPredict) {
  Start();
  ASSERT_TRUE(CreateModel("m").ok());
  ASSERT_TRUE(ObserveRange(0, 20).ok());

  const absl::Duration baseline = PredictP99(absl::Milliseconds(300));
  fs_.SetDelay(Op::kSync, absl::Milliseconds(200));
  fs_.SetDelay(Op::kSyncDirectory, absl::Milliseconds(200));
  std::thread admin([&] {
    EXPECT_TRUE(CreateModel("other").ok());
    EXPECT_TRUE(DeleteModel("other").ok());
  });
  const absl::Duration during = PredictP99(absl::Milliseconds(1500));
  admin.join();
  fs_.Clear();
  // Generous: the fsyncs alone take 200 ms each; a lookup behind them would
  // wait at least that long.
  EXPECT_LT(during, baseline + absl::Milliseconds(150))
      << "baseline p99 " << baseline << ", during admin work " << during;
}

// `rows` CSV rows of 3 features (label first); `seed` makes them distinct.
std::string DatasetCsv(int rows, int seed) {
  std::string csv;
  for (int i = 0; i < rows; ++i) {
    csv += std::to_string(i % 13 + seed) + "," + std::to_string(i % 7) + "," +
           std::to_string(i % 5) + "," + std::to_string(i % 3) + "\n";
  }
  return csv;
}

TEST_F(DiskFaultTest, UploadOnAFullDiskIsResourceExhaustedAndLeavesNothing) {
  Start();
  const std::string csv = DatasetCsv(4000, 0);
  // The disk fills up in the middle of a chunk: part of it is written.
  fs_.Inject({.op = Op::kWrite,
              .path_contains = "/datasets/tmp-",
              .error = ENOSPC,
              .partial_bytes = 512});
  v1::DatasetInfo info;
  EXPECT_EQ(UploadDataset("full", csv, 4096, &info).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(ListDatasets().empty());
  EXPECT_THAT(DatasetFiles(), ::testing::IsEmpty());
  Restart();
  EXPECT_TRUE(ListDatasets().empty());
  EXPECT_THAT(DatasetFiles(), ::testing::IsEmpty());
  ASSERT_TRUE(UploadDataset("full", csv, 4096, &info).ok());
  EXPECT_EQ(info.rows(), 4000u);
}

TEST_F(DiskFaultTest, UploadWhoseFinishFailsLeavesNothingNowOrAfterARestart) {
  Start();
  const std::string csv = DatasetCsv(100, 0);
  // The data fsync, then the metadata's write, fail.
  fs_.Inject(
      {.op = Op::kSync, .path_contains = "/datasets/tmp-", .error = EIO});
  v1::DatasetInfo info;
  EXPECT_EQ(UploadDataset("d", csv, 1 << 20, &info).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  fs_.Inject({.op = Op::kWrite, .path_contains = ".meta.tmp", .error = ENOSPC});
  EXPECT_EQ(UploadDataset("d", csv, 1 << 20, &info).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(ListDatasets().empty());
  EXPECT_THAT(DatasetFiles(), ::testing::IsEmpty());
  Restart();
  EXPECT_TRUE(ListDatasets().empty());
}

// Slow file work of uploads, Snapshot.to_file and retrain job records
// (200 ms per fsync), several at once, must not delay Predict on another
// model: that work runs on the file worker, never on gRPC's threads.
TEST_F(DiskFaultTest,
       SlowDiskWorkOfUploadsSnapshotsAndJobsDoesNotDelayPredict) {
  Start();
  ASSERT_TRUE(CreateModel("m").ok());
  ASSERT_TRUE(ObserveRange(0, 20).ok());
  constexpr int kAdmins = 4;
  for (int i = 0; i < kAdmins; ++i) {
    ASSERT_TRUE(CreateModel("r" + std::to_string(i)).ok());
  }
  std::vector<std::string> datasets;
  for (int i = 0; i < kAdmins; ++i) {
    v1::DatasetInfo info;
    ASSERT_TRUE(UploadDataset("d" + std::to_string(i), DatasetCsv(200, i),
                              1 << 20, &info)
                    .ok());
    datasets.push_back(info.id());
  }
  const absl::Duration baseline = PredictP99(absl::Milliseconds(300));
  fs_.SetDelay(Op::kSync, absl::Milliseconds(200));
  fs_.SetDelay(Op::kSyncDirectory, absl::Milliseconds(200));
  std::vector<std::thread> admins;
  for (int i = 0; i < kAdmins; ++i) {
    admins.emplace_back([&, i] {
      v1::DatasetInfo info;
      EXPECT_TRUE(UploadDataset("slow" + std::to_string(i),
                                DatasetCsv(200, 100 + i), 1 << 20, &info)
                      .ok());
      v1::SnapshotRequest snapshot;
      snapshot.set_model("m");
      snapshot.set_to_file("snap-" + std::to_string(i));
      v1::ModelSnapshot saved;
      grpc::ClientContext snapshot_context;
      EXPECT_TRUE(stub_->Snapshot(&snapshot_context, snapshot, &saved).ok());
      v1::RetrainRequest retrain;
      retrain.set_model("r" + std::to_string(i));
      retrain.set_dataset_id(datasets[i]);
      retrain.set_algorithm("least_squares");
      v1::RetrainJob job;
      grpc::ClientContext retrain_context;
      EXPECT_TRUE(stub_->Retrain(&retrain_context, retrain, &job).ok());
    });
  }
  const absl::Duration during = PredictP99(absl::Milliseconds(1500));
  for (std::thread& t : admins) t.join();
  fs_.Clear();
  // Generous: the fsyncs alone take 200 ms each; a Predict queued behind
  // one would wait at least that long.
  EXPECT_LT(during, baseline + absl::Milliseconds(150))
      << "baseline p99 " << baseline << ", during file work " << during;
}

}  // namespace
}  // namespace streamfit::testing
