// The metrics a scrape of /metrics shows for a real server (in process, its
// disk behind a FaultFileSystem): refusals by model and reason, publish lag
// in seconds, fsync latency, disk errors and checkpoint durations move when
// the events they count happen.
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "tests/server/metrics_scrape.h"
#include "tests/server/server_fixture.h"
#include "tests/testing/fault_file_system.h"

namespace streamfit::testing {
namespace {

using Op = FaultFileSystem::Op;

std::string Refused(const char* method, const char* reason) {
  return absl::StrCat(
      "streamfit_model_requests_refused_total{model=\"m\",method=\"", method,
      "\",reason=\"", reason, "\"}");
}
std::string RefusedSamples(const char* reason) {
  return absl::StrCat(
      "streamfit_model_samples_refused_total{model=\"m\","
      "reason=\"",
      reason, "\"}");
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ =
        (std::filesystem::path(::testing::TempDir()) /
         ("streamfit_metrics_" + std::to_string(::getpid()) + "_" +
          ::testing::UnitTest::GetInstance()->current_test_info()->name()))
            .string();
    std::filesystem::remove_all(data_dir_);
    examples_ = LinearExamples(100, 3);
  }
  void TearDown() override {
    if (!release_.HasBeenNotified()) release_.Notify();
    if (server_) server_->Shutdown(absl::Seconds(2));
    server_.reset();
    std::filesystem::remove_all(data_dir_);
  }

  void Start(uint64_t checkpoint_every_samples = 1'000'000) {
    StreamfitServer::Options options;
    options.address = "127.0.0.1:0";
    options.metrics_address = "127.0.0.1:0";
    options.data_dir = data_dir_;
    options.default_model = "";
    options.storage.checkpoint_every_samples = checkpoint_every_samples;
    options.storage.file_system = &fs_;
    auto server = StreamfitServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_GT(server_->metrics_port(), 0);
    stub_ = v1::Learner::NewStub(grpc::CreateChannel(
        server_->address(), grpc::InsecureChannelCredentials()));
    v1::CreateModelRequest request;
    request.set_name("m");
    request.mutable_config()->set_task(v1::TASK_REGRESSION);
    request.mutable_config()->set_num_features(3);
    v1::ModelInfo info;
    grpc::ClientContext context;
    const grpc::Status created = stub_->CreateModel(&context, request, &info);
    ASSERT_TRUE(created.ok()) << created.error_message();
  }

  Scrape Metrics() {
    absl::StatusOr<Scrape> scrape = ScrapeMetrics(server_->metrics_port());
    EXPECT_TRUE(scrape.ok()) << scrape.status();
    return scrape.ok() ? *std::move(scrape) : Scrape();
  }
  // Scrapes until `series` is at least `value` (10 s at most).
  Scrape MetricsOnce(const std::string& series, double value) {
    Scrape scrape;
    for (const absl::Time deadline = absl::Now() + absl::Seconds(10);
         absl::Now() < deadline; absl::SleepFor(absl::Milliseconds(20))) {
      scrape = Metrics();
      if (scrape[series] >= value) break;
    }
    return scrape;
  }

  grpc::Status Observe(const v1::ObserveRequest& message) {
    v1::ObserveResponse response;
    grpc::ClientContext context;
    auto writer = stub_->Observe(&context, &response);
    writer->Write(message);
    writer->WritesDone();
    return writer->Finish();
  }

  std::string data_dir_;
  FaultFileSystem fs_;
  std::vector<v1::Example> examples_;
  absl::Notification release_;  // lets a held fsync go
  std::unique_ptr<StreamfitServer> server_;
  std::unique_ptr<v1::Learner::Stub> stub_;
};

TEST_F(MetricsTest, ABadObserveMessageIsCountedAsRefusedWithItsSamples) {
  Start();
  v1::ObserveRequest bad = Message("m", examples_, 0, 4);
  bad.mutable_examples(2)->mutable_features()->set_dense(
      1, std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(Metrics()[Refused("Observe", "invalid_argument")], 0);
  EXPECT_EQ(Observe(bad).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const Scrape after = Metrics();
  EXPECT_EQ(after[Refused("Observe", "invalid_argument")], 1);
  EXPECT_EQ(after[RefusedSamples("invalid_argument")], 4);
  EXPECT_EQ(after.types.at("streamfit_model_samples_refused_total"), "counter");
}

TEST_F(MetricsTest, ABadPredictIsCountedAsRefused) {
  Start();
  v1::PredictRequest request;
  request.set_model("m");
  request.add_features()->add_dense(1);  // the model takes 3
  v1::PredictResponse response;
  grpc::ClientContext context;
  EXPECT_EQ(stub_->Predict(&context, request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Metrics()[Refused("Predict", "invalid_argument")], 1);
}

TEST_F(MetricsTest, AFullDiskRefusesTheBatchAndCountsAWriteError) {
  Start();
  const std::string write_errors = "streamfit_disk_errors_total{op=\"write\"}";
  const double before = Metrics()[write_errors];
  fs_.Inject({.op = Op::kWrite, .path_contains = "log-", .error = ENOSPC});
  EXPECT_EQ(Observe(Message("m", examples_, 0, 20)).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  const Scrape after = Metrics();
  EXPECT_EQ(after[write_errors], before + 1);
  EXPECT_EQ(after[Refused("Observe", "resource_exhausted")], 1);
  EXPECT_EQ(after[RefusedSamples("resource_exhausted")], 20);
}

TEST_F(MetricsTest, AFailedFsyncCountsASyncErrorAndAnUnavailableRefusal) {
  Start();
  const std::string sync_errors = "streamfit_disk_errors_total{op=\"sync\"}";
  const double before = Metrics()[sync_errors];
  fs_.Inject({.op = Op::kSync, .path_contains = "log-", .error = EIO});
  EXPECT_EQ(Observe(Message("m", examples_, 0, 10)).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  const Scrape after = Metrics();
  EXPECT_EQ(after[sync_errors], before + 1);
  EXPECT_EQ(after[Refused("Observe", "unavailable")], 1);
  EXPECT_EQ(after[RefusedSamples("unavailable")], 10);
}

TEST_F(MetricsTest, EachSampleLogFsyncIsTimed) {
  Start();
  const std::string count =
      "streamfit_fsync_duration_seconds_count{kind=\"sample_log\"}";
  const double before = Metrics()[count];
  ASSERT_TRUE(Observe(Message("m", examples_, 0, 10)).ok());
  const Scrape after = Metrics();
  EXPECT_EQ(after.types.at("streamfit_fsync_duration_seconds"), "histogram");
  EXPECT_GT(after[count], before);
  EXPECT_GT(after["streamfit_fsync_duration_seconds_sum{kind=\"sample_log\"}"],
            0);
  EXPECT_EQ(after["streamfit_fsync_duration_seconds_bucket{kind=\"sample_log\","
                  "le=\"+Inf\"}"],
            after[count]);
}

TEST_F(MetricsTest, PublishLagInSecondsGrowsWhileASampleWaitsThenIsZero) {
  Start();
  const std::string lag = "streamfit_model_publish_lag_seconds{model=\"m\"}";
  EXPECT_EQ(Metrics()[lag], 0);
  EXPECT_TRUE(Metrics().Has(lag));
  // The log's fsync is held: the batch is admitted, not applied.
  fs_.SetHook([this](Op op, const std::string& path) {
    if (op == Op::kSync && absl::StrContains(path, "log-")) {
      release_.WaitForNotification();
    }
  });
  grpc::Status observed;
  std::thread producer(
      [&] { observed = Observe(Message("m", examples_, 0, 10)); });
  const Scrape waiting =
      MetricsOnce("streamfit_model_samples_admitted_total{model=\"m\"}", 10);
  const Scrape later = Metrics();
  release_.Notify();
  producer.join();
  ASSERT_TRUE(observed.ok()) << observed.error_message();
  EXPECT_EQ(waiting["streamfit_model_samples_admitted_total{model=\"m\"}"], 10);
  EXPECT_GT(waiting[lag], 0);
  EXPECT_GE(later[lag], waiting[lag]);
  EXPECT_EQ(Metrics()[lag], 0);  // the reply came once it was published
}

TEST_F(MetricsTest, CheckpointWritesAreTimed) {
  Start(/*checkpoint_every_samples=*/10);
  const std::string count =
      "streamfit_model_checkpoint_duration_seconds_count{model=\"m\"}";
  EXPECT_EQ(Metrics()[count], 0);
  ASSERT_TRUE(Observe(Message("m", examples_, 0, 20)).ok());
  const Scrape after = MetricsOnce(count, 1);
  EXPECT_GE(after[count], 1);
  EXPECT_EQ(after.types.at("streamfit_model_checkpoint_duration_seconds"),
            "histogram");
  EXPECT_GT(
      after["streamfit_fsync_duration_seconds_count{kind=\"checkpoint\"}"], 0);
}

}  // namespace
}  // namespace streamfit::testing
