// The rls rule through the real server: its config over the wire, learning
// that matches the offline model bit for bit and survives a restart, and the
// inputs it refuses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/model/linear_model.h"
#include "core/model/model_trainer.h"
#include "server/proto_convert.h"
#include "tests/server/server_fixture.h"

namespace streamfit::testing {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

class RlsServiceTest : public ServerTest {
 protected:
  grpc::Status CreateRls(const std::string& name, v1::Task task,
                         v1::ModelInfo* info) {
    v1::CreateModelRequest request;
    request.set_name(name);
    request.mutable_config()->set_task(task);
    request.mutable_config()->set_num_features(3);
    request.mutable_config()->set_optimizer(v1::OPTIMIZER_RLS);
    request.mutable_config()->set_rls_forgetting(0.999);
    grpc::ClientContext context;
    return stub_->CreateModel(&context, request, info);
  }

  v1::ModelSnapshot Snapshot(const std::string& name) {
    v1::ModelSnapshot snapshot;
    EXPECT_TRUE(SnapshotModel(*stub_, name, &snapshot).ok());
    return snapshot;
  }
};

TEST_F(RlsServiceTest, LearnsTheLeastSquaresFitAndKeepsItAcrossARestart) {
  v1::ModelInfo info;
  ASSERT_TRUE(CreateRls("ls", v1::TASK_REGRESSION, &info).ok());
  EXPECT_EQ(info.config().optimizer(), v1::OPTIMIZER_RLS);
  EXPECT_TRUE(info.config().disable_standardization());
  EXPECT_EQ(info.config().rls_ridge(), 1e-6);
  EXPECT_EQ(info.config().rls_forgetting(), 0.999);

  const auto examples = LinearExamples(1500, 3);
  v1::ObserveResponse response;
  ASSERT_TRUE(Observe(Messages("ls", examples), &response).ok());
  EXPECT_EQ(response.model_version(), 1500u);

  // y = 3 x0 - 0.02 x1 + 50 x2 + 1 + noise of sd 0.1, on features of scale
  // 1, 100 and 0.01: the fit recovers each weight to its standard error.
  const v1::ModelSnapshot before = Snapshot("ls");
  ASSERT_EQ(before.weights_size(), 3);
  EXPECT_NEAR(before.weights(0), 3, 0.02);
  EXPECT_NEAR(before.weights(1), -0.02, 0.0002);
  EXPECT_NEAR(before.weights(2), 50, 2);
  EXPECT_NEAR(before.bias(0), 1, 0.02);

  // The offline model, learned from the same examples, holds the same state.
  absl::StatusOr<ModelTrainer> offline =
      LearnedOffline(info.config(), examples);
  ASSERT_TRUE(offline.ok());
  const std::vector<NamedTensor> state = offline->model().ExportState();
  ASSERT_EQ(before.state_size(), static_cast<int>(state.size()));
  for (size_t t = 0; t < state.size(); ++t) {
    EXPECT_EQ(before.state(t).name(), state[t].name);
    EXPECT_THAT(before.state(t).values(), ElementsAreArray(state[t].values))
        << state[t].name;
  }

  Restart();
  const v1::ModelSnapshot after = Snapshot("ls");
  EXPECT_EQ(after.model_version(), 1500u);
  ASSERT_EQ(after.state_size(), before.state_size());
  for (int t = 0; t < after.state_size(); ++t) {
    EXPECT_THAT(after.state(t).values(),
                ElementsAreArray(before.state(t).values()))
        << after.state(t).name();
  }
}

TEST_F(RlsServiceTest, RefusesWhatItCannotFitAndChangesNothing) {
  v1::ModelInfo info;
  grpc::Status status = CreateRls("bin", v1::TASK_BINARY, &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("rls fits regression with squared loss only"));

  ASSERT_TRUE(CreateRls("ls", v1::TASK_REGRESSION, &info).ok());
  const auto examples = LinearExamples(10, 4);
  v1::ObserveRequest good = Message("ls", examples, 0, 5);
  v1::ObserveRequest sparse = Message("ls", examples, 5, 10);
  sparse.mutable_examples(1)->mutable_features()->add_indices(7);
  sparse.mutable_examples(1)->mutable_features()->add_values(1);
  v1::ObserveResponse response;
  status = Observe({good, sparse}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("example 1: the model's optimizer rls takes dense "
                        "features only"));
  // The good message is applied (perhaps after the error came back), the
  // bad one not.
  v1::PredictResponse prediction;
  ASSERT_TRUE(
      PredictAtVersion(*stub_, "ls", 5, examples[0].features(), &prediction)
          .ok());
  EXPECT_EQ(prediction.model_version(), 5u);
}

}  // namespace
}  // namespace streamfit::testing
