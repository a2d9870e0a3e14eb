// The metrics a scrape of /metrics shows for a real server (in process, its
// disk behind a FaultFileSystem): refusals by model and reason, publish lag
// in seconds, fsync latency, disk errors and checkpoint durations move when
// the events they count happen.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "tests/server/fault_server_fixture.h"
#include "tests/server/metrics_scrape.h"

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

class MetricsTest : public FaultServerTest {
 protected:
  void SetUp() override {
    FaultServerTest::SetUp();
    metrics_address_ = "127.0.0.1:0";
  }
  void TearDown() override {
    if (!release_.HasBeenNotified()) release_.Notify();
    FaultServerTest::TearDown();
  }

  // Starts the server with its metrics endpoint and creates model "m".
  void StartWithModel(uint64_t checkpoint_every_samples = 1'000'000) {
    storage_.checkpoint_every_samples = checkpoint_every_samples;
    Start();
    ASSERT_GT(server_->metrics_port(), 0);
    const grpc::Status created = CreateModel("m");
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

  absl::Notification release_;  // lets a held fsync go
};

TEST_F(MetricsTest, ABadObserveMessageIsCountedAsRefusedWithItsSamples) {
  StartWithModel();
  v1::ObserveRequest bad = Message("m", examples_, 0, 4);
  bad.mutable_examples(2)->mutable_features()->set_dense(
      1, std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(Metrics()[Refused("Observe", "invalid_argument")], 0);
  EXPECT_EQ(ObserveMessage(bad).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  const Scrape after = Metrics();
  EXPECT_EQ(after[Refused("Observe", "invalid_argument")], 1);
  EXPECT_EQ(after[RefusedSamples("invalid_argument")], 4);
  EXPECT_EQ(after.types.at("streamfit_model_samples_refused_total"), "counter");
}

TEST_F(MetricsTest, ABadPredictIsCountedAsRefused) {
  StartWithModel();
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
  StartWithModel();
  const std::string write_errors = "streamfit_disk_errors_total{op=\"write\"}";
  const double before = Metrics()[write_errors];
  fs_.Inject({.op = Op::kWrite, .path_contains = "log-", .error = ENOSPC});
  EXPECT_EQ(ObserveRange(0, 20).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  const Scrape after = Metrics();
  EXPECT_EQ(after[write_errors], before + 1);
  EXPECT_EQ(after[Refused("Observe", "resource_exhausted")], 1);
  EXPECT_EQ(after[RefusedSamples("resource_exhausted")], 20);
}

TEST_F(MetricsTest, AFailedFsyncCountsASyncErrorAndAnUnavailableRefusal) {
  StartWithModel();
  const std::string sync_errors = "streamfit_disk_errors_total{op=\"sync\"}";
  const double before = Metrics()[sync_errors];
  fs_.Inject({.op = Op::kSync, .path_contains = "log-", .error = EIO});
  EXPECT_EQ(ObserveRange(0, 10).error_code(), grpc::StatusCode::UNAVAILABLE);
  const Scrape after = Metrics();
  EXPECT_EQ(after[sync_errors], before + 1);
  EXPECT_EQ(after[Refused("Observe", "unavailable")], 1);
  EXPECT_EQ(after[RefusedSamples("unavailable")], 10);
}

TEST_F(MetricsTest, EachSampleLogFsyncIsTimed) {
  StartWithModel();
  const std::string count =
      "streamfit_fsync_duration_seconds_count{kind=\"sample_log\"}";
  const double before = Metrics()[count];
  ASSERT_TRUE(ObserveRange(0, 10).ok());
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
  StartWithModel();
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
  std::thread producer([&] { observed = ObserveRange(0, 10); });
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
  StartWithModel(/*checkpoint_every_samples=*/10);
  const std::string count =
      "streamfit_model_checkpoint_duration_seconds_count{model=\"m\"}";
  EXPECT_EQ(Metrics()[count], 0);
  ASSERT_TRUE(ObserveRange(0, 20).ok());
  const Scrape after = MetricsOnce(count, 1);
  EXPECT_GE(after[count], 1);
  EXPECT_EQ(after.types.at("streamfit_model_checkpoint_duration_seconds"),
            "histogram");
  EXPECT_GT(
      after["streamfit_fsync_duration_seconds_count{kind=\"checkpoint\"}"], 0);
}

TEST_F(MetricsTest, TheLatestBatchGapAndTheDriftCountAreExported) {
  StartWithModel();
  ASSERT_TRUE(ObserveRange(0, 200).ok());
  const Scrape before = Metrics();
  EXPECT_EQ(before["streamfit_model_drifts_detected_total{model=\"m\"}"], 0);
  EXPECT_EQ(before.types.at("streamfit_model_drifts_detected_total"),
            "counter");
  EXPECT_FALSE(before.Has("streamfit_model_batch_gap_ratio{model=\"m\"}"));

  v1::MeasureBatchGapRequest request;
  request.set_model("m");
  request.set_window(100);
  v1::BatchGap gap;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->MeasureBatchGap(&context, request, &gap).ok());
  const Scrape after = Metrics();
  EXPECT_DOUBLE_EQ(after["streamfit_model_batch_gap_ratio{model=\"m\"}"],
                   gap.ratio());
  EXPECT_DOUBLE_EQ(
      after["streamfit_model_batch_gap_loss{model=\"m\",fit=\"online\"}"],
      gap.online_loss());
  EXPECT_DOUBLE_EQ(
      after["streamfit_model_batch_gap_loss{model=\"m\",fit=\"batch\"}"],
      gap.batch_loss());
}

TEST_F(MetricsTest, EachChallengersComparisonIsExported) {
  StartWithModel();
  v1::AddChallengerRequest add;
  add.set_model("m");
  add.set_name("ada");
  add.mutable_config()->set_task(v1::TASK_REGRESSION);
  add.mutable_config()->set_num_features(3);
  add.mutable_config()->set_optimizer(v1::OPTIMIZER_ADAGRAD);
  v1::Challenger added;
  grpc::ClientContext add_context;
  ASSERT_TRUE(stub_->AddChallenger(&add_context, add, &added).ok());
  ASSERT_TRUE(ObserveRange(0, 200).ok());
  ASSERT_TRUE(ObserveRange(0, 200).ok());  // the same samples again
  const std::string confidence =
      "streamfit_challenger_confidence{model=\"m\",challenger=\"ada\"}";
  const std::string loss =
      "streamfit_challenger_progressive_loss{model=\"m\",challenger=\"ada\","
      "learner=\"challenger\"}";
  Scrape scrape;
  v1::ListChallengersResponse listed;
  for (int i = 0; i < 500; ++i) {
    grpc::ClientContext context;
    v1::ListChallengersRequest request;
    request.set_model("m");
    ASSERT_TRUE(stub_->ListChallengers(&context, request, &listed).ok());
    if (listed.challengers(0).model_version() == 400) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(listed.challengers(0).model_version(), 400u);
  scrape = Metrics();
  EXPECT_EQ(scrape.types.at("streamfit_challenger_confidence"), "gauge");
  const v1::ChallengerComparison& compared = listed.challengers(0).comparison();
  EXPECT_EQ(compared.compared_samples(), 400u);  // it joined at 0
  EXPECT_DOUBLE_EQ(scrape[confidence], compared.confidence());
  EXPECT_DOUBLE_EQ(scrape[loss], compared.challenger_loss());
}

}  // namespace
}  // namespace streamfit::testing
