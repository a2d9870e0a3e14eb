// Disk faults at each step of the durable path, through the FileSystem seam:
// what the client sees, what a restart recovers. Each test is a row of the
// table in docs/ARCHITECTURE.md ("Disk faults").
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "tests/server/server_fixture.h"
#include "tests/testing/fault_file_system.h"

namespace streamfit::testing {
namespace {

using Op = FaultFileSystem::Op;

class DiskFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ =
        (std::filesystem::path(::testing::TempDir()) /
         ("streamfit_fault_" + std::to_string(::getpid()) + "_" +
          ::testing::UnitTest::GetInstance()->current_test_info()->name()))
            .string();
    std::filesystem::remove_all(data_dir_);
    examples_ = LinearExamples(200, 7);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(2));
    server_.reset();
    std::filesystem::remove_all(data_dir_);
  }

  void Start() {
    StreamfitServer::Options options;
    options.address = "127.0.0.1:0";
    options.data_dir = data_dir_;
    options.default_model = "";
    options.storage = storage_;
    options.storage.file_system = &fs_;
    auto server = StreamfitServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::Learner::NewStub(grpc::CreateChannel(
        server_->address(), grpc::InsecureChannelCredentials()));
  }
  // A clean stop and a new server on the same directory, faults cleared.
  void Restart() {
    server_->Shutdown(absl::Seconds(2));
    server_.reset();
    fs_.Clear();
    Start();
  }

  grpc::Status CreateModel(const std::string& name) {
    v1::CreateModelRequest request;
    request.set_name(name);
    request.mutable_config()->set_task(v1::TASK_REGRESSION);
    request.mutable_config()->set_num_features(3);
    v1::ModelInfo info;
    grpc::ClientContext context;
    return stub_->CreateModel(&context, request, &info);
  }
  grpc::Status DeleteModel(const std::string& name) {
    v1::DeleteModelRequest request;
    request.set_name(name);
    v1::DeleteModelResponse response;
    grpc::ClientContext context;
    return stub_->DeleteModel(&context, request, &response);
  }
  // Observes examples [begin, end) in one message.
  grpc::Status ObserveRange(size_t begin, size_t end) {
    v1::ObserveResponse response;
    grpc::ClientContext context;
    auto writer = stub_->Observe(&context, &response);
    writer->Write(Message("m", examples_, begin, end));
    writer->WritesDone();
    return writer->Finish();
  }
  // Retries (bounded) until an Observe of [begin, end) is accepted: the
  // learner reopens a failed log in the background.
  grpc::Status ObserveOnceReopened(size_t begin, size_t end) {
    grpc::Status status;
    for (int i = 0; i < 200; ++i) {
      status = ObserveRange(begin, end);
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE) break;
      absl::SleepFor(absl::Milliseconds(25));
    }
    return status;
  }
  absl::StatusOr<v1::ModelInfo> GetModel(const std::string& name) {
    v1::GetModelRequest request;
    request.set_name(name);
    v1::ModelInfo info;
    grpc::ClientContext context;
    grpc::Status s = stub_->GetModel(&context, request, &info);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                          s.error_message());
    }
    return info;
  }
  // The model's version and state bytes.
  std::string State(const std::string& name) {
    v1::SnapshotRequest request;
    request.set_model(name);
    v1::ModelSnapshot snapshot;
    grpc::ClientContext context;
    grpc::Status s = stub_->Snapshot(&context, request, &snapshot);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::string out = std::to_string(snapshot.model_version());
    for (const auto& t : snapshot.state()) out += t.SerializeAsString();
    return out;
  }
  // The state of a fresh model fed examples [0, n) in `chunks`-sized
  // messages on another server (no faults): what the model must equal.
  std::string Reference(const std::vector<std::pair<size_t, size_t>>& ranges) {
    server_->Shutdown(absl::Seconds(2));
    server_.reset();
    const std::string dir = data_dir_;
    data_dir_ += "_reference";
    std::filesystem::remove_all(data_dir_);
    Start();
    EXPECT_TRUE(CreateModel("m").ok());
    for (const auto& [b, e] : ranges) EXPECT_TRUE(ObserveRange(b, e).ok());
    const std::string state = State("m");
    server_->Shutdown(absl::Seconds(2));
    server_.reset();
    std::filesystem::remove_all(data_dir_);
    data_dir_ = dir;
    Start();
    return state;
  }

  // Uploads `csv` in `chunk`-byte messages (3 features, label first).
  grpc::Status UploadDataset(const std::string& name, const std::string& csv,
                             size_t chunk, v1::DatasetInfo* info) {
    grpc::ClientContext context;
    auto writer = stub_->UploadDataset(&context, info);
    for (size_t i = 0; i < csv.size(); i += chunk) {
      v1::UploadDatasetRequest request;
      if (i == 0) request.set_name(name);
      request.set_data(csv.substr(i, chunk));
      if (!writer->Write(request)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }
  std::vector<v1::DatasetInfo> ListDatasets() {
    v1::ListDatasetsResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(
        stub_->ListDatasets(&context, v1::ListDatasetsRequest(), &response)
            .ok());
    return {response.datasets().begin(), response.datasets().end()};
  }
  std::vector<std::string> DatasetFiles() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(
             std::filesystem::path(data_dir_) / "datasets")) {
      out.push_back(e.path().filename().string());
    }
    return out;
  }
  // Predict's p99 latency on model "m" over `span`, one call at a time.
  absl::Duration PredictP99(absl::Duration span) {
    std::vector<absl::Duration> out;
    const absl::Time end = absl::Now() + span;
    while (absl::Now() < end) {
      v1::PredictRequest request;
      request.set_model("m");
      *request.add_features() = examples_[0].features();
      v1::PredictResponse response;
      grpc::ClientContext context;
      const absl::Time start = absl::Now();
      EXPECT_TRUE(stub_->Predict(&context, request, &response).ok());
      out.push_back(absl::Now() - start);
    }
    std::sort(out.begin(), out.end());
    return out[out.size() * 99 / 100];
  }

  StorageOptions storage_;
  FaultFileSystem fs_;
  std::string data_dir_;
  std::vector<v1::Example> examples_;
  std::unique_ptr<StreamfitServer> server_;
  std::unique_ptr<v1::Learner::Stub> stub_;
};

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
  EXPECT_EQ(GetModel("m")->freshness().admitted_version(), 20u);
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
  const auto predict_latencies = [&](absl::Duration span) {
    std::vector<absl::Duration> out;
    const absl::Time end = absl::Now() + span;
    while (absl::Now() < end) {
      v1::PredictRequest request;
      request.set_model("m");
      *request.add_features() = examples_[0].features();
      v1::PredictResponse response;
      grpc::ClientContext context;
      const absl::Time start = absl::Now();
      EXPECT_TRUE(stub_->Predict(&context, request, &response).ok());
      out.push_back(absl::Now() - start);
    }
    std::sort(out.begin(), out.end());
    return out[out.size() * 99 / 100];
  };
  const absl::Duration baseline = predict_latencies(absl::Milliseconds(300));
  fs_.SetDelay(Op::kSync, absl::Milliseconds(200));
  fs_.SetDelay(Op::kSyncDirectory, absl::Milliseconds(200));
  std::thread admin([&] {
    EXPECT_TRUE(CreateModel("other").ok());
    EXPECT_TRUE(DeleteModel("other").ok());
  });
  const absl::Duration during = predict_latencies(absl::Milliseconds(1500));
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
