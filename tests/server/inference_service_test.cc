// The Open Inference Protocol service on a real server, called through a C++
// client generated from proto/inference/grpc_service.proto; every answer is
// compared with streamfit.v1.Learner/Predict on the same rows.
#include "server/inference_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "inference/grpc_service.grpc.pb.h"
#include "tests/server/server_fixture.h"

namespace streamfit::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class InferenceServiceTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    inference_ = inference::GRPCInferenceService::NewStub(grpc::CreateChannel(
        server_->address(), grpc::InsecureChannelCredentials()));
  }

  // Learns `n` rows of `width` features with labels label(i), one message.
  void Learn(const std::string& model, int n, uint32_t width,
             const std::function<double(int)>& label) {
    v1::ObserveRequest request;
    request.set_model(model);
    v1::DenseBatch* batch = request.mutable_dense_batch();
    batch->set_num_features(width);
    for (int i = 0; i < n; ++i) {
      for (uint32_t j = 0; j < width; ++j) {
        batch->add_values(static_cast<float>(((i * 7 + j * 3) % 11) - 5));
      }
      batch->add_labels(label(i));
    }
    v1::ObserveResponse response;
    ASSERT_TRUE(Observe({request}, &response).ok());
  }

  // v1 Predict of row-major `rows`.
  v1::PredictResponse Predict(const std::string& model,
                              const std::vector<float>& rows, uint32_t width) {
    v1::PredictRequest request;
    request.set_model(model);
    request.mutable_dense_batch()->set_num_features(width);
    request.mutable_dense_batch()->mutable_values()->Add(rows.begin(),
                                                         rows.end());
    v1::PredictResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->Predict(&context, request, &response).ok());
    return response;
  }

  grpc::Status Infer(const inference::ModelInferRequest& request,
                     inference::ModelInferResponse* response,
                     absl::Duration deadline = absl::Seconds(30)) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    return inference_->ModelInfer(&context, request, response);
  }

  std::unique_ptr<inference::GRPCInferenceService::Stub> inference_;
};

// A request for `rows` (row-major, `width` wide) as FP32 or FP64, typed or
// raw.
inference::ModelInferRequest InferRequest(const std::string& model,
                                          const std::vector<float>& rows,
                                          uint32_t width, bool fp64, bool raw) {
  inference::ModelInferRequest request;
  request.set_model_name(model);
  request.set_id("req-1");
  auto* input = request.add_inputs();
  input->set_name("features");
  input->set_datatype(fp64 ? "FP64" : "FP32");
  input->add_shape(static_cast<int64_t>(rows.size() / width));
  input->add_shape(width);
  const std::vector<double> wide(rows.begin(), rows.end());
  if (raw) {
    std::string bytes(fp64 ? wide.size() * 8 : rows.size() * 4, '\0');
    std::memcpy(bytes.data(),
                fp64 ? static_cast<const void*>(wide.data())
                     : static_cast<const void*>(rows.data()),
                bytes.size());
    request.add_raw_input_contents(bytes);
  } else if (fp64) {
    input->mutable_contents()->mutable_fp64_contents()->Add(wide.begin(),
                                                            wide.end());
  } else {
    input->mutable_contents()->mutable_fp32_contents()->Add(rows.begin(),
                                                            rows.end());
  }
  return request;
}

// Output `index` of `response` as doubles, typed or raw.
std::vector<double> OutputValues(const inference::ModelInferResponse& response,
                                 int index) {
  if (response.raw_output_contents_size() == 0) {
    const auto& c = response.outputs(index).contents().fp64_contents();
    return {c.begin(), c.end()};
  }
  const std::string& bytes = response.raw_output_contents(index);
  std::vector<double> values(bytes.size() / 8);
  std::memcpy(values.data(), bytes.data(), values.size() * 8);
  return values;
}

const std::vector<float> kRows = {0.5f, -1, 2, 3, 0, 1, -4, 2.25f, 1};

TEST_F(InferenceServiceTest, HealthAndServerMetadata) {
  {
    grpc::ClientContext context;
    inference::ServerLiveResponse response;
    ASSERT_TRUE(inference_->ServerLive(&context, {}, &response).ok());
    EXPECT_TRUE(response.live());
  }
  {
    grpc::ClientContext context;
    inference::ServerReadyResponse response;
    ASSERT_TRUE(inference_->ServerReady(&context, {}, &response).ok());
    EXPECT_TRUE(response.ready());
  }
  grpc::ClientContext context;
  inference::ServerMetadataResponse response;
  ASSERT_TRUE(inference_->ServerMetadata(&context, {}, &response).ok());
  EXPECT_EQ(response.name(), "streamfit");
  EXPECT_FALSE(response.version().empty());
}

TEST_F(InferenceServiceTest, ModelReadyForKnownModelsAndReachedVersions) {
  Create("ready", v1::TASK_REGRESSION, 3);
  Learn("ready", 4, 3, [](int i) { return i; });
  auto ready = [&](const std::string& name, const std::string& version) {
    inference::ModelReadyRequest request;
    request.set_name(name);
    request.set_version(version);
    inference::ModelReadyResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(inference_->ModelReady(&context, request, &response).ok());
    return response.ready();
  };
  EXPECT_TRUE(ready("ready", ""));
  EXPECT_TRUE(ready("ready", "4"));
  EXPECT_FALSE(ready("ready", "5"));
  EXPECT_FALSE(ready("no-such-model", ""));
}

TEST_F(InferenceServiceTest, ModelMetadataDescribesTensors) {
  Create("bin", v1::TASK_BINARY, 3);
  Create("multi", v1::TASK_MULTICLASS, 3, 4);
  Create("reg", v1::TASK_REGRESSION, 3);
  Learn("bin", 6, 3, [](int i) { return i % 2; });
  auto metadata = [&](const std::string& name) {
    inference::ModelMetadataRequest request;
    request.set_name(name);
    inference::ModelMetadataResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(inference_->ModelMetadata(&context, request, &response).ok());
    return response;
  };
  inference::ModelMetadataResponse bin = metadata("bin");
  EXPECT_EQ(bin.name(), "bin");
  EXPECT_THAT(bin.versions(), ElementsAre("6"));
  ASSERT_EQ(bin.inputs_size(), 1);
  EXPECT_EQ(bin.inputs(0).name(), "features");
  EXPECT_EQ(bin.inputs(0).datatype(), "FP32");
  EXPECT_THAT(bin.inputs(0).shape(), ElementsAre(-1, 3));
  ASSERT_EQ(bin.outputs_size(), 2);
  EXPECT_EQ(bin.outputs(0).name(), "predictions");
  EXPECT_THAT(bin.outputs(0).shape(), ElementsAre(-1));
  EXPECT_EQ(bin.outputs(1).name(), "probabilities");
  EXPECT_THAT(bin.outputs(1).shape(), ElementsAre(-1, 2));
  EXPECT_THAT(metadata("multi").outputs(1).shape(), ElementsAre(-1, 4));
  EXPECT_EQ(metadata("reg").outputs_size(), 1);

  inference::ModelMetadataRequest unknown;
  unknown.set_name("no-such-model");
  inference::ModelMetadataResponse response;
  grpc::ClientContext context;
  EXPECT_EQ(
      inference_->ModelMetadata(&context, unknown, &response).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST_F(InferenceServiceTest, InferEqualsPredictTypedAndRawFp32AndFp64) {
  Create("bin", v1::TASK_BINARY, 3);
  Learn("bin", 50, 3, [](int i) { return (i * 5) % 3 == 0; });
  const v1::PredictResponse expected = Predict("bin", kRows, 3);
  ASSERT_EQ(expected.predictions_size(), 3);
  for (bool fp64 : {false, true}) {
    for (bool raw : {false, true}) {
      SCOPED_TRACE(absl::StrCat(fp64 ? "FP64" : "FP32", raw ? " raw" : ""));
      inference::ModelInferResponse response;
      ASSERT_TRUE(
          Infer(InferRequest("bin", kRows, 3, fp64, raw), &response).ok());
      EXPECT_EQ(response.model_name(), "bin");
      EXPECT_EQ(response.model_version(),
                absl::StrCat(expected.model_version()));
      EXPECT_EQ(response.id(), "req-1");
      ASSERT_EQ(response.outputs_size(), 2);
      EXPECT_EQ(response.raw_output_contents_size(), raw ? 2 : 0);
      EXPECT_EQ(response.outputs(0).name(), "predictions");
      EXPECT_EQ(response.outputs(0).datatype(), "FP64");
      EXPECT_THAT(response.outputs(0).shape(), ElementsAre(3));
      EXPECT_THAT(response.outputs(1).shape(), ElementsAre(3, 2));
      const std::vector<double> predictions = OutputValues(response, 0);
      const std::vector<double> probabilities = OutputValues(response, 1);
      ASSERT_EQ(predictions.size(), 3u);
      ASSERT_EQ(probabilities.size(), 6u);
      for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(predictions[i], expected.predictions(i).value());
        EXPECT_EQ(probabilities[2 * i + 1], expected.predictions(i).value());
        EXPECT_DOUBLE_EQ(probabilities[2 * i] + probabilities[2 * i + 1], 1);
      }
    }
  }
}

TEST_F(InferenceServiceTest, MulticlassProbabilitiesAreTheClassScores) {
  Create("multi", v1::TASK_MULTICLASS, 3, 3);
  Learn("multi", 60, 3, [](int i) { return i % 3; });
  const v1::PredictResponse expected = Predict("multi", kRows, 3);
  inference::ModelInferRequest request =
      InferRequest("multi", kRows, 3, /*fp64=*/false, /*raw=*/true);
  request.add_outputs()->set_name("probabilities");  // only this one
  inference::ModelInferResponse response;
  ASSERT_TRUE(Infer(request, &response).ok());
  ASSERT_EQ(response.outputs_size(), 1);
  EXPECT_EQ(response.outputs(0).name(), "probabilities");
  const std::vector<double> probabilities = OutputValues(response, 0);
  ASSERT_EQ(probabilities.size(), 9u);
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 3; ++k) {
      EXPECT_EQ(probabilities[3 * i + k], expected.predictions(i).scores(k));
    }
  }
}

TEST_F(InferenceServiceTest, HashedModelTensorCarriesTheDenseFeatures) {
  v1::CreateModelRequest create;
  create.set_name("hashed");
  create.mutable_config()->set_task(v1::TASK_REGRESSION);
  create.mutable_config()->set_num_features(3);
  create.mutable_config()->set_hash_bits(10);
  v1::ModelInfo info;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->CreateModel(&context, create, &info).ok());
  }
  Learn("hashed", 20, 3, [](int i) { return i; });
  const v1::PredictResponse expected = Predict("hashed", kRows, 3);
  inference::ModelInferResponse response;
  ASSERT_TRUE(
      Infer(InferRequest("hashed", kRows, 3, false, false), &response).ok());
  const std::vector<double> predictions = OutputValues(response, 0);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(predictions[i], expected.predictions(i).value());
  }

  create.set_name("sparse_only");
  create.mutable_config()->set_num_features(0);
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->CreateModel(&context, create, &info).ok());
  }
  inference::ModelInferRequest sparse =
      InferRequest("sparse_only", {}, 1, false, false);
  sparse.mutable_inputs(0)->set_shape(1, 0);
  grpc::Status status = Infer(sparse, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("no dense features"));
}

TEST_F(InferenceServiceTest, BadRequestsNameTheField) {
  Create("reg", v1::TASK_REGRESSION, 3);
  inference::ModelInferResponse response;
  grpc::Status status =
      Infer(InferRequest("reg", {1, 2, 3, 4}, 2, false, false), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("inputs[0].shape"));

  inference::ModelInferRequest request =
      InferRequest("reg", kRows, 3, false, false);
  request.add_outputs()->set_name("probabilities");  // a regression model
  status = Infer(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("outputs[0].name"));

  request = InferRequest("reg", kRows, 3, false, false);
  request.set_model_version("latest");
  status = Infer(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("model_version"));

  status =
      Infer(InferRequest("no-such-model", kRows, 3, false, false), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(InferenceServiceTest, ModelVersionIsAMinimumTheCallWaitsFor) {
  Create("reg", v1::TASK_REGRESSION, 3);
  Learn("reg", 5, 3, [](int i) { return i; });
  inference::ModelInferRequest request =
      InferRequest("reg", kRows, 3, false, false);
  request.set_model_version("8");
  inference::ModelInferResponse response;
  grpc::Status status = Infer(request, &response, absl::Milliseconds(300));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The server drops the waiter once it sees the cancellation.
  auto model = server_->registry().Get("reg");
  ASSERT_TRUE(model.ok());
  for (int i = 0; i < 500 && (*model)->learner.WaiterCount() > 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ((*model)->learner.WaiterCount(), 0u);

  grpc::Status waited;
  std::thread waiter([&] { waited = Infer(request, &response); });
  Learn("reg", 3, 3, [](int i) { return i; });
  waiter.join();
  ASSERT_TRUE(waited.ok()) << waited.error_message();
  EXPECT_EQ(response.model_version(), "8");
  const v1::PredictResponse expected = Predict("reg", kRows, 3);
  EXPECT_EQ(OutputValues(response, 0)[2], expected.predictions(2).value());
}

}  // namespace
}  // namespace streamfit::testing
