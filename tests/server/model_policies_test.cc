// ModelConfig.policies over the real server: a drift under
// DRIFT_POLICY_RETRAIN, and a measured gap past its ratio, start a retrain
// of the model's recent samples; the gap is measured every N samples.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/server/server_fixture.h"

namespace streamfit::testing {
namespace {

class ModelPoliciesTest : public ServerTest {
 protected:
  std::vector<v1::RetrainJob> Jobs() {
    grpc::ClientContext context;
    v1::ListRetrainJobsResponse response;
    EXPECT_TRUE(
        stub_
            ->ListRetrainJobs(&context, v1::ListRetrainJobsRequest(), &response)
            .ok());
    return {response.jobs().begin(), response.jobs().end()};
  }

  // The first job, once one exists and has ended (bounded wait).
  v1::RetrainJob FinishedJob() {
    for (int i = 0; i < 600; ++i) {
      const std::vector<v1::RetrainJob> jobs = Jobs();
      if (!jobs.empty() && jobs[0].state() != v1::RETRAIN_PENDING &&
          jobs[0].state() != v1::RETRAIN_RUNNING) {
        return jobs[0];
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "no policy retrain ended";
    return {};
  }

  v1::ModelInfo Info() {
    grpc::ClientContext context;
    v1::GetModelRequest request;
    request.set_name("m");
    v1::ModelInfo info;
    EXPECT_TRUE(stub_->GetModel(&context, request, &info).ok());
    return info;
  }

  const std::vector<v1::Example> examples_ = LinearExamples(4000, 11);
};

TEST_F(ModelPoliciesTest, ADriftStartsARetrainOfTheRecentSamples) {
  v1::ModelConfig config;
  config.set_drift_policy(v1::DRIFT_POLICY_RETRAIN);
  config.mutable_policies()->set_retrain_samples(1000);
  Create("m", v1::TASK_REGRESSION, 3, 0, config);
  ObserveLabeled(examples_, 0, 2000, false);
  EXPECT_TRUE(Jobs().empty());  // a stationary stream starts nothing
  ObserveLabeled(examples_, 2000, 4000, true);  // the true weights negated
  ASSERT_GE(Info().metrics().drifts_detected(), 1u);

  const v1::RetrainJob job = FinishedJob();
  EXPECT_EQ(job.state(), v1::RETRAIN_SUCCEEDED) << job.error();
  EXPECT_EQ(job.request().model(), "m");
  EXPECT_EQ(job.request().recent_samples(), 1000u);
  EXPECT_EQ(job.request().algorithm(), "least_squares");
  EXPECT_EQ(job.request().swap_policy(), v1::SWAP_IF_BETTER);
  EXPECT_EQ(job.metrics().train_rows() + job.metrics().holdout_rows(), 1000u);
}

TEST_F(ModelPoliciesTest, TheGapIsMeasuredEveryNSamplesAndItsRatioRetrains) {
  v1::ModelConfig config;
  config.mutable_policies()->set_batch_gap_every(500);
  config.mutable_policies()->set_batch_gap_window(300);
  config.mutable_policies()->set_batch_gap_retrain_ratio(1);
  Create("m", v1::TASK_REGRESSION, 3, 0, config);
  ObserveLabeled(examples_, 0, 1500, false);
  v1::ModelInfo info;
  for (int i = 0; i < 600; ++i) {
    info = Info();
    if (info.batch_gap().to_version() >= 500) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(info.batch_gap().to_version(), 500u);
  EXPECT_EQ(info.batch_gap().to_version() - info.batch_gap().from_version(),
            300u);
  EXPECT_EQ(info.batch_gap().algorithm(), "least_squares");
  // A fit of a window scored on that window beats the online model there:
  // a ratio of at least 1 starts the retrain.
  EXPECT_GE(info.batch_gap().ratio(), 1);
  const v1::RetrainJob job = FinishedJob();
  EXPECT_EQ(job.state(), v1::RETRAIN_SUCCEEDED) << job.error();
  EXPECT_EQ(job.request().recent_samples(), 10'000u);  // the default
}

TEST_F(ModelPoliciesTest, WithoutPoliciesNothingStarts) {
  Create("m", v1::TASK_REGRESSION, 3);
  ObserveLabeled(examples_, 0, 2000, false);
  ObserveLabeled(examples_, 2000, 4000, true);
  ASSERT_GE(Info().metrics().drifts_detected(), 1u);
  // The policy loop runs every 100 ms: give it several rounds.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(Jobs().empty());
  EXPECT_FALSE(Info().has_batch_gap());
}

}  // namespace
}  // namespace streamfit::testing
