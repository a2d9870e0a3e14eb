// Iterate averaging through the real server: the serving setting over the
// wire, Predict serving the averaged weights as the offline model does, and
// the averaging state kept bit for bit across a restart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/model/linear_model.h"
#include "core/model/model_trainer.h"
#include "server/proto_convert.h"
#include "tests/server/server_fixture.h"

namespace streamfit::testing {
namespace {

using ::testing::ElementsAreArray;

class AveragingServiceTest : public ServerTest {};

TEST_F(AveragingServiceTest, ServesTheAverageAndKeepsItAcrossARestart) {
  v1::CreateModelRequest request;
  request.set_name("avg");
  request.mutable_config()->set_task(v1::TASK_REGRESSION);
  request.mutable_config()->set_num_features(3);
  request.mutable_config()->set_serving(v1::SERVING_AVERAGED);
  v1::ModelInfo info;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->CreateModel(&context, request, &info).ok());
  }
  EXPECT_EQ(info.config().serving(), v1::SERVING_AVERAGED);
  EXPECT_EQ(info.served_weights(), v1::SERVED_WEIGHTS_AVERAGED);

  const auto examples = LinearExamples(800, 5);
  std::vector<v1::ObserveRequest> messages;
  for (size_t i = 0; i < examples.size(); i += 100) {
    messages.push_back(Message("avg", examples, i, i + 100));
  }
  v1::ObserveResponse response;
  ASSERT_TRUE(Observe(messages, &response).ok());
  ASSERT_EQ(response.model_version(), 800u);

  // The offline model learned from the same examples predicts alike.
  absl::StatusOr<ModelTrainer> offline =
      ModelTrainer::Create(FromProto(info.config()));
  ASSERT_TRUE(offline.ok());
  for (const v1::Example& e : examples) {
    const auto& d = e.features().dense();
    offline->Learn({d.data(), static_cast<size_t>(d.size())}, e.label());
  }
  ASSERT_TRUE(offline->model().ServesAveraged());
  v1::PredictResponse prediction;
  ASSERT_TRUE(
      PredictAtVersion(*stub_, "avg", 800, examples[0].features(), &prediction)
          .ok());
  const auto& d = examples[0].features().dense();
  Prediction want;
  offline->model().Predict(
      std::span<const float>(d.data(), static_cast<size_t>(d.size())), want);
  ASSERT_EQ(prediction.predictions_size(), 1);
  EXPECT_EQ(prediction.predictions(0).value(), want.value);

  v1::ModelSnapshot before;
  ASSERT_TRUE(SnapshotModel(*stub_, "avg", &before).ok());
  bool has_averaging = false;
  for (const v1::Tensor& t : before.state()) {
    has_averaging = has_averaging || t.name() == "averaging_dense";
  }
  EXPECT_TRUE(has_averaging);
  Restart();
  v1::ModelSnapshot after;
  ASSERT_TRUE(SnapshotModel(*stub_, "avg", &after).ok());
  EXPECT_EQ(after.model_version(), 800u);
  ASSERT_EQ(after.state_size(), before.state_size());
  for (int t = 0; t < after.state_size(); ++t) {
    EXPECT_THAT(after.state(t).values(),
                ElementsAreArray(before.state(t).values()))
        << after.state(t).name();
  }
}

// A default model on a narrow dense regression stream serves the exact
// least-squares fit once it predicts best, exactly as an offline model of the
// same samples, and ModelInfo says so; the fit survives a restart bit for
// bit.
TEST_F(AveragingServiceTest, AutoServesTheLeastSquaresFitAndSaysSo) {
  v1::CreateModelRequest request;
  request.set_name("fit");
  request.mutable_config()->set_task(v1::TASK_REGRESSION);
  request.mutable_config()->set_num_features(3);
  v1::ModelInfo info;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->CreateModel(&context, request, &info).ok());
  }
  EXPECT_EQ(info.config().serving(), v1::SERVING_AUTO);
  EXPECT_EQ(info.served_weights(), v1::SERVED_WEIGHTS_LIVE);

  const auto examples = LinearExamples(2000, 6);
  std::vector<v1::ObserveRequest> messages;
  for (size_t i = 0; i < examples.size(); i += 100) {
    messages.push_back(Message("fit", examples, i, i + 100));
  }
  v1::ObserveResponse response;
  ASSERT_TRUE(Observe(messages, &response).ok());
  ASSERT_EQ(response.model_version(), 2000u);

  absl::StatusOr<ModelTrainer> offline =
      ModelTrainer::Create(FromProto(info.config()));
  ASSERT_TRUE(offline.ok());
  for (const v1::Example& e : examples) {
    const auto& d = e.features().dense();
    offline->Learn({d.data(), static_cast<size_t>(d.size())}, e.label());
  }
  ASSERT_EQ(offline->model().Served(), ServedWeights::kLeastSquares);
  v1::PredictResponse prediction;
  ASSERT_TRUE(
      PredictAtVersion(*stub_, "fit", 2000, examples[7].features(), &prediction)
          .ok());
  const auto& d = examples[7].features().dense();
  Prediction want;
  offline->model().Predict(
      std::span<const float>(d.data(), static_cast<size_t>(d.size())), want);
  ASSERT_EQ(prediction.predictions_size(), 1);
  EXPECT_EQ(prediction.predictions(0).value(), want.value);
  {
    grpc::ClientContext context;
    v1::GetModelRequest get;
    get.set_name("fit");
    ASSERT_TRUE(stub_->GetModel(&context, get, &info).ok());
  }
  EXPECT_EQ(info.served_weights(), v1::SERVED_WEIGHTS_LEAST_SQUARES);

  v1::ModelSnapshot before;
  ASSERT_TRUE(SnapshotModel(*stub_, "fit", &before).ok());
  bool has_fit = false;
  for (const v1::Tensor& t : before.state()) {
    has_fit = has_fit || t.name() == "least_squares_weights";
  }
  EXPECT_TRUE(has_fit);
  Restart();
  v1::ModelSnapshot after;
  ASSERT_TRUE(SnapshotModel(*stub_, "fit", &after).ok());
  ASSERT_EQ(after.state_size(), before.state_size());
  for (int t = 0; t < after.state_size(); ++t) {
    EXPECT_THAT(after.state(t).values(),
                ElementsAreArray(before.state(t).values()))
        << after.state(t).name();
  }
}

}  // namespace
}  // namespace streamfit::testing
