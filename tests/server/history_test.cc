// Looking back over the real server: Predict.at_version answers exactly
// what Predict answered at that version (across checkpoints, a restart and
// a retrain swap), and MeasureBatchGap compares the online model with the
// batch optimum on its recent samples.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/server/server_fixture.h"

namespace streamfit::testing {
namespace {

using ::testing::HasSubstr;

constexpr auto kWait = std::chrono::seconds(60);

class HistoryTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    Restart(Options());
  }
  StreamfitServer::Options Options(uint64_t checkpoint_every_samples = 500) {
    StreamfitServer::Options options;
    options.learner = learner_options_;
    options.storage.checkpoint_every_samples = checkpoint_every_samples;
    options.storage.keep_checkpoints = 3;
    return options;
  }

  // Observes examples [begin, end) in one call, answered once applied.
  void ObserveRange(size_t begin, size_t end) {
    v1::ObserveResponse response;
    const grpc::Status status =
        Observe({Message("m", examples_, begin, end)}, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.model_version(), end);
  }

  // Predict of the probe inputs, at `at_version` when set.
  grpc::Status PredictProbes(std::optional<uint64_t> at_version,
                             v1::PredictResponse* response) {
    v1::PredictRequest request;
    request.set_model("m");
    for (int i = 0; i < 3; ++i) {
      *request.add_features() = examples_[examples_.size() - 1 - i].features();
    }
    if (at_version) request.set_at_version(*at_version);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kWait);
    return stub_->Predict(&context, request, response);
  }

  // Records what Predict answers now, at the model's current version.
  void Record() {
    v1::PredictResponse response;
    const grpc::Status status = PredictProbes(std::nullopt, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    answered_[response.model_version()] = response;
  }

  // Every recorded answer at or after `oldest` again, through at_version;
  // the older ones are OUT_OF_RANGE naming the oldest reachable version.
  void ExpectRecordedAnswers(uint64_t oldest) {
    for (const auto& [version, recorded] : answered_) {
      SCOPED_TRACE(version);
      v1::PredictResponse again;
      const grpc::Status status = PredictProbes(version, &again);
      if (version < oldest) {
        EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
        EXPECT_THAT(
            status.error_message(),
            HasSubstr("oldest version reachable is " + std::to_string(oldest)));
        continue;
      }
      ASSERT_TRUE(status.ok()) << status.error_message();
      EXPECT_EQ(again.model_version(), version);
      ASSERT_EQ(again.predictions_size(), recorded.predictions_size());
      for (int i = 0; i < recorded.predictions_size(); ++i) {
        // Bit-identical: the same state, rebuilt.
        EXPECT_EQ(again.predictions(i).value(),
                  recorded.predictions(i).value());
      }
    }
  }

  // Versions of the model's checkpoint files, oldest first.
  std::vector<uint64_t> CheckpointVersions() {
    std::vector<uint64_t> versions;
    for (const auto& dir :
         std::filesystem::directory_iterator(data_dir_ / "models")) {
      for (const auto& file : std::filesystem::directory_iterator(dir)) {
        const std::string name = file.path().filename().string();
        if (name.starts_with("ckpt-") && name.ends_with(".ckpt")) {
          versions.push_back(std::stoull(name.substr(5, 20)));
        }
      }
    }
    std::sort(versions.begin(), versions.end());
    return versions;
  }

  grpc::Status MeasureGap(uint64_t window, const std::string& algorithm,
                          v1::BatchGap* gap) {
    v1::MeasureBatchGapRequest request;
    request.set_model("m");
    request.set_window(window);
    request.set_algorithm(algorithm);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kWait);
    return stub_->MeasureBatchGap(&context, request, gap);
  }

  const std::vector<v1::Example> examples_ = LinearExamples(3000, 17);
  std::map<uint64_t, v1::PredictResponse> answered_;
};

TEST_F(HistoryTest,
       PastPredictionsAreBitIdenticalAcrossCheckpointsAndARestart) {
  Create("m", v1::TASK_REGRESSION, 3);
  Record();  // version 0
  for (size_t end = 37; end <= 2000; end += 37) {
    ObserveRange(end - 37, end);
    Record();
    if (end - CheckpointVersions().back() >= 500) {
      // The server's background loop checkpoints every 500 samples (three
      // are kept): let it write this one before going on.
      for (int i = 0; i < 600 && CheckpointVersions().back() < end; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }
  std::vector<uint64_t> checkpoints = CheckpointVersions();
  ASSERT_EQ(checkpoints.size(), 3u);
  ASSERT_GT(checkpoints.front(), 0u);  // the oldest states are gone
  ExpectRecordedAnswers(checkpoints.front());

  Restart(Options());  // a clean stop checkpoints the latest state too
  checkpoints = CheckpointVersions();
  ExpectRecordedAnswers(checkpoints.front());

  // Not reached yet; and the current version answers as plain Predict does.
  v1::PredictResponse response;
  const grpc::Status ahead =
      PredictProbes(answered_.rbegin()->first + 1, &response);
  EXPECT_EQ(ahead.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(ahead.error_message(), HasSubstr("has not been reached"));
}

TEST_F(HistoryTest, VersionsAfterARetrainSwapAreTheSwappedModels) {
  // No checkpoint but the creation's, the swap's and the restart's: every
  // version stays reachable.
  Restart(Options(/*checkpoint_every_samples=*/1'000'000));
  Create("m", v1::TASK_REGRESSION, 3);
  for (size_t end = 50; end <= 1000; end += 50) {
    ObserveRange(end - 50, end);
    Record();
  }
  // Refit the model's own last 800 samples; the swap replaces the state
  // without a sample in the log.
  v1::RetrainRequest retrain;
  retrain.set_model("m");
  retrain.set_recent_samples(800);
  retrain.set_algorithm("least_squares");
  v1::RetrainJob job;
  {
    grpc::ClientContext context;
    const grpc::Status status = stub_->Retrain(&context, retrain, &job);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  for (int i = 0; i < 1200 && job.state() != v1::RETRAIN_SUCCEEDED &&
                  job.state() != v1::RETRAIN_FAILED;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    grpc::ClientContext context;
    v1::GetRetrainJobRequest get;
    get.set_id(job.id());
    ASSERT_TRUE(stub_->GetRetrainJob(&context, get, &job).ok());
  }
  ASSERT_EQ(job.state(), v1::RETRAIN_SUCCEEDED) << job.error();
  EXPECT_TRUE(job.swapped());
  EXPECT_EQ(job.metrics().train_rows(), 800u);
  Record();  // the swapped state, at the swap's version
  for (size_t end = 1050; end <= 1500; end += 50) {
    ObserveRange(end - 50, end);
    Record();
  }
  EXPECT_EQ(CheckpointVersions(), (std::vector<uint64_t>{0, 1000}));
  ExpectRecordedAnswers(0);
  Restart(Options(/*checkpoint_every_samples=*/1'000'000));
  EXPECT_EQ(CheckpointVersions(), (std::vector<uint64_t>{0, 1000, 1500}));
  ExpectRecordedAnswers(0);

  // A retrain needs a dataset or recent samples.
  retrain.set_recent_samples(0);
  retrain.set_dataset_id("");
  grpc::ClientContext context;
  EXPECT_EQ(stub_->Retrain(&context, retrain, &job).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(HistoryTest, TheGapIsTheProgressiveLossAgainstTheLeastSquaresFit) {
  Create("m", v1::TASK_REGRESSION, 3);
  ObserveRange(0, 1000);
  // The last 200 samples one at a time, each predicted just before it is
  // learned: the online losses, measured from outside.
  double online = 0;
  Eigen::MatrixXd x(200, 4);
  Eigen::VectorXd y(200);
  for (size_t k = 1000; k < 1200; ++k) {
    v1::PredictResponse response;
    ASSERT_TRUE(
        PredictAtVersion(*stub_, "m", k, examples_[k].features(), &response)
            .ok());
    ASSERT_EQ(response.model_version(), k);
    const double error = response.predictions(0).value() - examples_[k].label();
    online += error * error;
    for (int j = 0; j < 3; ++j) {
      x(k - 1000, j) = examples_[k].features().dense(j);
    }
    x(k - 1000, 3) = 1;
    y(k - 1000) = examples_[k].label();
    ObserveRange(k, k + 1);
  }
  // The batch optimum of those samples: ordinary least squares.
  const Eigen::VectorXd beta = x.colPivHouseholderQr().solve(y);
  const double batch = (x * beta - y).squaredNorm() / 200;

  v1::BatchGap gap;
  const grpc::Status status = MeasureGap(200, "", &gap);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(gap.from_version(), 1000u);
  EXPECT_EQ(gap.to_version(), 1200u);
  EXPECT_EQ(gap.algorithm(), "least_squares");
  EXPECT_NEAR(gap.online_loss(), online / 200, 1e-9 * online / 200);
  EXPECT_NEAR(gap.batch_loss(), batch, 1e-6 * batch);
  EXPECT_GT(gap.ratio(), 1);
  EXPECT_DOUBLE_EQ(gap.gap(), gap.online_loss() - gap.batch_loss());

  // The latest measurement is in the model's info.
  grpc::ClientContext context;
  v1::GetModelRequest get;
  get.set_name("m");
  v1::ModelInfo info;
  ASSERT_TRUE(stub_->GetModel(&context, get, &info).ok());
  EXPECT_EQ(info.batch_gap().to_version(), 1200u);
  EXPECT_EQ(info.batch_gap().online_loss(), gap.online_loss());

  // A window larger than the model's life covers all of it; bad requests
  // change nothing.
  ASSERT_TRUE(MeasureGap(1'000'000, "lbfgs", &gap).ok());
  EXPECT_EQ(gap.from_version(), 0u);
  EXPECT_EQ(MeasureGap(100, "minibatch_sgd", &gap).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(MeasureGap(100, "bogus", &gap).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(HistoryTest, ABinaryModelsGapUsesLbfgsAndRefusesLeastSquares) {
  Create("m", v1::TASK_BINARY, 3);
  std::vector<v1::Example> labeled = examples_;
  for (auto& e : labeled) e.set_label(e.label() > 1 ? 1 : 0);
  v1::ObserveResponse response;
  ASSERT_TRUE(Observe({Message("m", labeled, 0, 2000)}, &response).ok());
  v1::BatchGap gap;
  EXPECT_EQ(MeasureGap(1000, "least_squares", &gap).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  const grpc::Status status = MeasureGap(1000, "", &gap);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(gap.algorithm(), "lbfgs");
  EXPECT_EQ(gap.from_version(), 1000u);
  // The fit of the window is scored on the window: it cannot lose to the
  // online model by much (it minimizes the same log loss there).
  EXPECT_LT(gap.batch_loss(), gap.online_loss());
  EXPECT_GT(gap.batch_loss(), 0);
}

}  // namespace
}  // namespace streamfit::testing
