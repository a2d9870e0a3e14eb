// Backpressure: a learner slower than its producer keeps at most its queue's
// worth of unapplied samples; the producer is slowed (its acks wait), never
// failed, and every sample it sent is applied.
#include <gtest/gtest.h>

#include <thread>

#include "tests/server/server_fixture.h"

namespace streamfit::testing {
namespace {

constexpr int kQueueCapacity = 128;  // samples
constexpr int kPublishEvery = 128;   // samples
constexpr int kBatch = 32;           // examples per message
constexpr int kFeatures = 100;
constexpr int kClasses = 100;  // 10^4 weights: the learner is the bottleneck
constexpr int kMessages = 600;

class ThroughputBackpressureTest : public ServerTest {
 protected:
  ThroughputBackpressureTest() {
    learner_options_.queue_capacity = kQueueCapacity;
    learner_options_.publish_every = kPublishEvery;
  }

  v1::ModelInfo Info(const std::string& model) {
    v1::GetModelRequest request;
    request.set_name(model);
    v1::ModelInfo info;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->GetModel(&context, request, &info).ok());
    return info;
  }
};

v1::ObserveRequest DenseMessage(int seed) {
  v1::ObserveRequest request;
  v1::DenseBatch* dense = request.mutable_dense_batch();
  dense->set_num_features(kFeatures);
  for (int i = 0; i < kBatch; ++i) {
    for (int j = 0; j < kFeatures; ++j) {
      dense->add_values(static_cast<float>((seed * 31 + i * 7 + j) % 13) - 6);
    }
    dense->add_labels((seed + i) % kClasses);
  }
  return request;
}

TEST_F(ThroughputBackpressureTest, SlowLearnerBoundsUnappliedSamples) {
  Create("slow", v1::TASK_MULTICLASS, kFeatures, kClasses);
  grpc::ClientContext context;
  auto stream = stub_->ObserveStream(&context);
  std::thread writer([&] {
    for (int m = 0; m < kMessages; ++m) {
      v1::ObserveRequest request = DenseMessage(m);
      if (m == 0) request.set_model("slow");
      // Write blocks while the server stops reading: that is the slowing.
      ASSERT_TRUE(stream->Write(request)) << "message " << m;
    }
    stream->WritesDone();
  });

  // Every ack is exact and in order; whenever one arrives, the samples the
  // server took but has not published yet fit in the queue, the batch being
  // applied and one publish interval: memory does not grow with the stream.
  const uint64_t bound = kQueueCapacity + kBatch + kPublishEvery;
  uint64_t acked = 0, max_lag = 0;
  int acks = 0;
  v1::ObserveAck ack;
  while (stream->Read(&ack)) {
    ++acks;
    acked += ack.accepted();
    ASSERT_EQ(ack.accepted(), static_cast<uint64_t>(kBatch));
    ASSERT_EQ(ack.model_version(), acked);
    if (acks % 10 == 0) {
      const v1::ModelInfo info = Info("slow");
      const uint64_t published = info.model_version();
      const uint64_t lag = acked > published ? acked - published : 0;
      max_lag = std::max(max_lag, lag);
      ASSERT_LE(lag, bound) << "after ack " << acks;
      // The server's own report of the same bound.
      const v1::Freshness& freshness = info.freshness();
      ASSERT_EQ(freshness.publish_every_samples(),
                static_cast<uint64_t>(kPublishEvery));
      ASSERT_GE(freshness.admitted_version(), acked);
      ASSERT_LE(freshness.admitted_version() - published, bound)
          << "after ack " << acks;
    }
  }
  writer.join();
  const grpc::Status status = stream->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(acks, kMessages);
  EXPECT_EQ(acked, static_cast<uint64_t>(kMessages) * kBatch);

  // Everything acked gets applied (read-your-writes on the final version).
  v1::PredictRequest request;
  request.set_model("slow");
  request.set_min_version(acked);
  request.mutable_dense_batch()->set_num_features(kFeatures);
  for (int j = 0; j < kFeatures; ++j)
    request.mutable_dense_batch()->add_values(1);
  grpc::ClientContext predict_context;
  predict_context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(60));
  v1::PredictResponse response;
  ASSERT_TRUE(stub_->Predict(&predict_context, request, &response).ok());
  EXPECT_EQ(response.model_version(), acked);
  RecordProperty("max_unpublished_samples_at_ack", static_cast<int>(max_lag));
}

// A unary Observe stream (no acks) is slowed the same way and its reply
// counts every sample.
TEST_F(ThroughputBackpressureTest, ClientStreamIsSlowedNotFailed) {
  Create("slow", v1::TASK_MULTICLASS, kFeatures, kClasses);
  std::vector<v1::ObserveRequest> messages;
  for (int m = 0; m < kMessages / 2; ++m) {
    messages.push_back(DenseMessage(m));
    messages.back().set_model("slow");
  }
  v1::ObserveResponse response;
  const grpc::Status status = Observe(messages, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.accepted(), messages.size() * kBatch);
  EXPECT_EQ(response.model_version(), messages.size() * kBatch);
  EXPECT_EQ(Info("slow").model_version(), messages.size() * kBatch);
}

}  // namespace
}  // namespace streamfit::testing
