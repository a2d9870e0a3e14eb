// Iterate averaging, and the least-squares fit and the Kalman filter beside
// the rule, through the real server: the serving setting over the wire,
// Predict serving the averaged weights, the fit or the filter as the offline
// model does, ModelInfo naming the weights served, and their state kept bit
// for bit across a restart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <span>
#include <string>
#include <vector>

#include "core/model/linear_model.h"
#include "core/model/model_trainer.h"
#include "tests/server/server_fixture.h"

namespace streamfit::testing {
namespace {

using ::testing::ElementsAreArray;

class AveragingServiceTest : public ServerTest {
 protected:
  // Creates `name`, a 3-feature model of `task` serving `serving`, learns
  // `examples` through the server and sets `offline` to a model that learned
  // them offline; returns the ModelInfo of the creation.
  v1::ModelInfo CreateAndLearn(const std::string& name, v1::Serving serving,
                               const std::vector<v1::Example>& examples,
                               absl::StatusOr<ModelTrainer>& offline,
                               v1::Task task = v1::TASK_REGRESSION) {
    v1::CreateModelRequest request;
    request.set_name(name);
    request.mutable_config()->set_task(task);
    request.mutable_config()->set_num_features(3);
    request.mutable_config()->set_serving(serving);
    v1::ModelInfo info;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->CreateModel(&context, request, &info).ok());
    v1::ObserveResponse response;
    EXPECT_TRUE(Observe(Messages(name, examples), &response).ok());
    EXPECT_EQ(response.model_version(), examples.size());
    offline = LearnedOffline(info.config(), examples);
    EXPECT_TRUE(offline.ok());
    return info;
  }

  // The server's Predict of `example` at `version` equals `offline`'s.
  void ExpectPredictsAs(const std::string& name, uint64_t version,
                        const v1::Example& example,
                        const ModelTrainer& offline) {
    v1::PredictResponse prediction;
    ASSERT_TRUE(
        PredictAtVersion(*stub_, name, version, example.features(), &prediction)
            .ok());
    const auto& d = example.features().dense();
    Prediction want;
    offline.model().Predict(
        std::span<const float>(d.data(), static_cast<size_t>(d.size())), want);
    ASSERT_EQ(prediction.predictions_size(), 1);
    EXPECT_EQ(prediction.predictions(0).value(), want.value);
  }

  // `name`'s snapshot holds tensor `tensor`, and after a restart the model
  // is at `version` with every tensor kept bit for bit.
  void ExpectStateKeptAcrossARestart(const std::string& name,
                                     const std::string& tensor,
                                     uint64_t version) {
    v1::ModelSnapshot before;
    ASSERT_TRUE(SnapshotModel(*stub_, name, &before).ok());
    bool has_tensor = false;
    for (const v1::Tensor& t : before.state()) {
      has_tensor = has_tensor || t.name() == tensor;
    }
    EXPECT_TRUE(has_tensor) << tensor;
    Restart();
    v1::ModelSnapshot after;
    ASSERT_TRUE(SnapshotModel(*stub_, name, &after).ok());
    EXPECT_EQ(after.model_version(), version);
    ASSERT_EQ(after.state_size(), before.state_size());
    for (int t = 0; t < after.state_size(); ++t) {
      EXPECT_THAT(after.state(t).values(),
                  ElementsAreArray(before.state(t).values()))
          << after.state(t).name();
    }
  }
};

TEST_F(AveragingServiceTest, ServesTheAverageAndKeepsItAcrossARestart) {
  const auto examples = LinearExamples(800, 5);
  absl::StatusOr<ModelTrainer> offline;
  const v1::ModelInfo info =
      CreateAndLearn("avg", v1::SERVING_AVERAGED, examples, offline);
  EXPECT_EQ(info.config().serving(), v1::SERVING_AVERAGED);
  EXPECT_EQ(info.served_weights(), v1::SERVED_WEIGHTS_AVERAGED);
  ASSERT_TRUE(offline.ok());
  ASSERT_TRUE(offline->model().ServesAveraged());
  ExpectPredictsAs("avg", 800, examples[0], *offline);
  ExpectStateKeptAcrossARestart("avg", "averaging_dense", 800);
}

// A default model on a narrow dense regression stream serves the exact
// least-squares fit once it predicts best, exactly as an offline model of the
// same samples, and ModelInfo says so; the fit survives a restart bit for
// bit.
TEST_F(AveragingServiceTest, AutoServesTheLeastSquaresFitAndSaysSo) {
  const auto examples = LinearExamples(2000, 6);
  absl::StatusOr<ModelTrainer> offline;
  v1::ModelInfo info =
      CreateAndLearn("fit", v1::SERVING_UNSPECIFIED, examples, offline);
  EXPECT_EQ(info.config().serving(), v1::SERVING_AUTO);
  EXPECT_EQ(info.served_weights(), v1::SERVED_WEIGHTS_LIVE);
  ASSERT_TRUE(offline.ok());
  ASSERT_EQ(offline->model().Served(), ServedWeights::kLeastSquares);
  ExpectPredictsAs("fit", 2000, examples[7], *offline);
  {
    grpc::ClientContext context;
    v1::GetModelRequest get;
    get.set_name("fit");
    ASSERT_TRUE(stub_->GetModel(&context, get, &info).ok());
  }
  EXPECT_EQ(info.served_weights(), v1::SERVED_WEIGHTS_LEAST_SQUARES);
  ExpectStateKeptAcrossARestart("fit", "least_squares_weights", 2000);
}

// Likewise the Kalman filter of a default narrow dense classifier.
TEST_F(AveragingServiceTest, AutoServesTheKalmanFilterAndSaysSo) {
  std::vector<v1::Example> examples = LinearExamples(1000, 7);
  for (v1::Example& e : examples) e.set_label(e.label() > 1 ? 1 : 0);
  absl::StatusOr<ModelTrainer> offline;
  v1::ModelInfo info = CreateAndLearn("filter", v1::SERVING_UNSPECIFIED,
                                      examples, offline, v1::TASK_BINARY);
  EXPECT_EQ(info.served_weights(), v1::SERVED_WEIGHTS_LIVE);
  ASSERT_TRUE(offline.ok());
  ASSERT_EQ(offline->model().Served(), ServedWeights::kKalman);
  ExpectPredictsAs("filter", 1000, examples[3], *offline);
  {
    grpc::ClientContext context;
    v1::GetModelRequest get;
    get.set_name("filter");
    ASSERT_TRUE(stub_->GetModel(&context, get, &info).ok());
  }
  EXPECT_EQ(info.served_weights(), v1::SERVED_WEIGHTS_KALMAN);
  ExpectStateKeptAcrossARestart("filter", "kalman_covariance", 1000);
}

}  // namespace
}  // namespace streamfit::testing
