// ObserveStream (acked bidirectional ingest) and the packed DenseBatch path.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/server/server_fixture.h"

namespace streamfit::testing {
namespace {

using ::testing::HasSubstr;

v1::DenseBatch Pack(const std::vector<v1::Example>& examples, size_t begin,
                    size_t end) {
  v1::DenseBatch dense;
  dense.set_num_features(examples[0].features().dense_size());
  for (size_t i = begin; i < end; ++i) {
    dense.mutable_values()->Add(examples[i].features().dense().begin(),
                                examples[i].features().dense().end());
    dense.add_labels(examples[i].label());
  }
  return dense;
}

class ObserveStreamTest : public ServerTest {};

TEST_F(ObserveStreamTest, AcksEveryRequestInOrderWithManyInFlight) {
  Create("s", v1::TASK_REGRESSION, 3);
  const auto examples = LinearExamples(800, 5);
  grpc::ClientContext context;
  auto stream = stub_->ObserveStream(&context);
  // Write everything before reading any ack: requests are in flight.
  for (size_t i = 0; i < examples.size(); i += 16) {
    v1::ObserveRequest request;
    request.set_model(i == 0 ? "s" : "");
    if ((i / 16) % 2 == 0) {
      request = Message(i == 0 ? "s" : "", examples, i, i + 16);
    } else {
      *request.mutable_dense_batch() = Pack(examples, i, i + 16);
    }
    ASSERT_TRUE(stream->Write(request));
  }
  stream->WritesDone();
  v1::ObserveAck ack;
  uint64_t expected = 0;
  int acks = 0;
  while (stream->Read(&ack)) {
    expected += 16;
    ++acks;
    EXPECT_EQ(ack.accepted(), 16u);
    EXPECT_EQ(ack.model_version(), expected);
  }
  EXPECT_EQ(acks, 50);
  ASSERT_TRUE(stream->Finish().ok());

  // Packed and unpacked Predict inputs give the same answers.
  v1::PredictRequest request;
  request.set_model("s");
  request.set_min_version(800);
  *request.add_features() = examples[1].features();
  *request.mutable_dense_batch() = Pack(examples, 1, 2);
  grpc::ClientContext predict_context;
  predict_context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(5));
  v1::PredictResponse response;
  ASSERT_TRUE(stub_->Predict(&predict_context, request, &response).ok());
  EXPECT_EQ(response.model_version(), 800u);
  ASSERT_EQ(response.predictions_size(), 2);
  EXPECT_EQ(response.predictions(0).value(), response.predictions(1).value());
}

TEST_F(ObserveStreamTest, BadRequestEndsTheStreamAfterAckingThoseBefore) {
  Create("s", v1::TASK_REGRESSION, 3);
  const auto examples = LinearExamples(30, 6);
  grpc::ClientContext context;
  auto stream = stub_->ObserveStream(&context);
  ASSERT_TRUE(stream->Write(Message("s", examples, 0, 10)));
  ASSERT_TRUE(stream->Write(Message("s", examples, 10, 20)));
  auto bad = Message("s", examples, 20, 30);
  bad.mutable_examples(4)->mutable_features()->set_dense(2, NAN);
  stream->Write(bad);
  stream->WritesDone();
  std::vector<uint64_t> versions;
  v1::ObserveAck ack;
  while (stream->Read(&ack)) versions.push_back(ack.model_version());
  EXPECT_THAT(versions, ::testing::ElementsAre(10, 20));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("example 4: features.dense[2] is NaN"));
}

TEST_F(ObserveStreamTest, MalformedDenseBatchesAreRefused) {
  Create("d", v1::TASK_BINARY, 2);
  struct Case {
    std::function<void(v1::DenseBatch&)> make;
    const char* message;
  };
  const std::vector<Case> cases = {
      {[](v1::DenseBatch& d) {
         d.set_num_features(3);
         d.add_values(1), d.add_values(2), d.add_values(3), d.add_labels(1);
       },
       "num_features is 3"},
      {[](v1::DenseBatch& d) {
         d.set_num_features(2);
         d.add_values(1), d.add_values(2), d.add_values(3), d.add_labels(1);
       },
       "not a multiple"},
      {[](v1::DenseBatch& d) {
         d.set_num_features(2);
         d.add_values(1), d.add_values(2);
       },
       "1 rows but 0 labels"},
      {[](v1::DenseBatch& d) {
         d.set_num_features(2);
         d.add_values(1), d.add_values(2), d.add_labels(1), d.add_weights(1),
             d.add_weights(1);
       },
       "1 rows but 2 weights"},
      {[](v1::DenseBatch& d) {
         d.set_num_features(2);
         d.add_values(1), d.add_values(2), d.add_labels(0.5);
       },
       "example 0: dense_batch.labels[0] 0.5"},
  };
  for (const Case& c : cases) {
    v1::ObserveRequest request;
    request.set_model("d");
    c.make(*request.mutable_dense_batch());
    v1::ObserveResponse response;
    grpc::Status status = Observe({request}, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
  }
  grpc::ClientContext context;
  v1::GetModelRequest get;
  get.set_name("d");
  v1::ModelInfo info;
  ASSERT_TRUE(stub_->GetModel(&context, get, &info).ok());
  EXPECT_EQ(info.model_version(), 0u);  // G3: nothing was learned
}

}  // namespace
}  // namespace streamfit::testing
