// Input validation and limits at the service level: names, config enums,
// --max_models, --max_model_bytes, --max_predict_rows, Restore's checks
// (state ranges, shape), and a log record that fails validation on replay,
// which marks its model failed instead of stopping the server.
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/model/feature_hash.h"
#include "core/model/model_config.h"
#include "core/storage/file_util.h"
#include "core/storage/sample_log.h"
#include "server/proto_convert.h"
#include "server/snapshot_codec.h"
#include "tests/server/server_fixture.h"

namespace streamfit::testing {
namespace {

using ::testing::HasSubstr;

class LimitsTest : public ServerTest {
 protected:
  grpc::Status CreateWith(const std::string& name,
                          const v1::ModelConfig& config,
                          v1::ModelInfo* info = nullptr) {
    v1::CreateModelRequest request;
    request.set_name(name);
    *request.mutable_config() = config;
    v1::ModelInfo ignored;
    grpc::ClientContext context;
    return stub_->CreateModel(&context, request, info ? info : &ignored);
  }

  grpc::Status Get(const std::string& name, v1::ModelInfo* info) {
    v1::GetModelRequest request;
    request.set_name(name);
    grpc::ClientContext context;
    return stub_->GetModel(&context, request, info);
  }

  grpc::Status Predict(const v1::PredictRequest& request,
                       v1::PredictResponse* response) {
    grpc::ClientContext context;
    return stub_->Predict(&context, request, response);
  }

  // The gRPC health status of `service` (1 SERVING, 2 NOT_SERVING), read
  // with a generic call (grpc.health.v1.HealthCheckRequest{service}).
  int Health(const std::string& service) {
    grpc::GenericStub stub(grpc::CreateChannel(
        server_->address(), grpc::InsecureChannelCredentials()));
    std::string request_bytes = "\x0a";
    request_bytes += static_cast<char>(service.size());
    request_bytes += service;
    grpc::Slice slice(request_bytes);
    grpc::ByteBuffer request(&slice, 1), response;
    grpc::ClientContext context;
    absl::Notification done;
    grpc::Status status;
    stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", {}, &request,
                   &response, [&](grpc::Status s) {
                     status = s;
                     done.Notify();
                   });
    done.WaitForNotification();
    if (!status.ok()) return -static_cast<int>(status.error_code());
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(response.Dump(&slices).ok());
    std::string bytes;
    for (const auto& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    return bytes.size() == 2 && bytes[0] == 0x08 ? bytes[1] : 0;
  }

  // The directory of model `name`'s current incarnation.
  std::string ModelDir(const std::string& name) {
    for (const auto& e :
         std::filesystem::directory_iterator(data_dir_ / "models")) {
      const std::string file = e.path().filename().string();
      if (file.rfind(name + ".", 0) == 0) return e.path().string();
    }
    ADD_FAILURE() << "no directory for " << name;
    return "";
  }
};

v1::ModelConfig Config(v1::Task task, uint32_t features, uint32_t classes = 0) {
  v1::ModelConfig config;
  config.set_task(task);
  config.set_num_features(features);
  config.set_num_classes(classes);
  return config;
}

TEST_F(LimitsTest, CreateModelRefusesEnumValuesOutOfRangeNamingTheField) {
  v1::ModelConfig config = Config(v1::TASK_REGRESSION, 3);
  config.set_task(static_cast<v1::Task>(99));
  grpc::Status s = CreateWith("m", config);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("config.task 99"));
  config = Config(v1::TASK_REGRESSION, 3);
  config.set_optimizer(static_cast<v1::Optimizer>(17));
  s = CreateWith("m", config);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("config.optimizer 17"));
  config = Config(v1::TASK_REGRESSION, 3);
  config.set_loss(static_cast<v1::Loss>(8));
  EXPECT_THAT(CreateWith("m", config).error_message(),
              HasSubstr("config.loss 8"));
  config = Config(v1::TASK_REGRESSION, 3);
  config.set_schedule(static_cast<v1::LearningRateSchedule>(5));
  EXPECT_THAT(CreateWith("m", config).error_message(),
              HasSubstr("config.schedule 5"));
  // Nothing was created, so a restart has nothing to trip on.
  Restart();
  v1::ModelInfo info;
  EXPECT_EQ(Get("m", &info).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(LimitsTest, NamesFollowOnePatternEverywhere) {
  for (const std::string bad : {".", "..", "-rf", "a\nb", "a/b", "_x", ""}) {
    EXPECT_EQ(CreateWith(bad, Config(v1::TASK_REGRESSION, 3)).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << bad;
  }
  EXPECT_EQ(CreateWith(std::string(129, 'a'), Config(v1::TASK_REGRESSION, 3))
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(CreateWith("m-1.v2_x", Config(v1::TASK_REGRESSION, 3)).ok());
  v1::ModelSnapshot snapshot;
  for (const std::string bad : {"a\nb", "..", ".hidden", "-rf", "a/b"}) {
    EXPECT_EQ(SnapshotModel(*stub_, "m-1.v2_x", &snapshot, bad).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << bad;
  }
}

TEST_F(LimitsTest, SnapshotToFileRefusesAnExistingName) {
  Create("m", v1::TASK_REGRESSION, 3);
  v1::ModelSnapshot snapshot;
  ASSERT_TRUE(SnapshotModel(*stub_, "m", &snapshot, "m.snap").ok());
  const auto first = ReadWholeFile((data_dir_ / "snapshots/m.snap").string());
  ASSERT_TRUE(first.ok());
  v1::ObserveResponse response;
  ASSERT_TRUE(
      Observe({Message("m", LinearExamples(5, 1), 0, 5)}, &response).ok());
  const grpc::Status again = SnapshotModel(*stub_, "m", &snapshot, "m.snap");
  EXPECT_EQ(again.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(*ReadWholeFile((data_dir_ / "snapshots/m.snap").string()), *first);
}

TEST_F(LimitsTest, CreateModelStopsAtMaxModels) {
  StreamfitServer::Options options;
  options.limits.max_models = 2;
  Restart(options);
  ASSERT_TRUE(CreateWith("a", Config(v1::TASK_REGRESSION, 3)).ok());
  ASSERT_TRUE(CreateWith("b", Config(v1::TASK_REGRESSION, 3)).ok());
  const grpc::Status third = CreateWith("c", Config(v1::TASK_REGRESSION, 3));
  EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(third.error_message(), HasSubstr("--max_models"));
}

TEST_F(LimitsTest, PredictStopsAtMaxPredictRows) {
  StreamfitServer::Options options;
  options.service.max_predict_rows = 4;
  Restart(options);
  Create("m", v1::TASK_REGRESSION, 2);
  v1::PredictRequest request;
  request.set_model("m");
  request.mutable_dense_batch()->set_num_features(2);
  for (int i = 0; i < 8; ++i) request.mutable_dense_batch()->add_values(1);
  v1::PredictResponse response;
  ASSERT_TRUE(Predict(request, &response).ok());  // 4 rows
  request.add_features()->add_dense(1);
  request.mutable_features(0)->add_dense(2);
  const grpc::Status five = Predict(request, &response);
  EXPECT_EQ(five.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(five.error_message(), HasSubstr("--max_predict_rows"));
}

TEST_F(LimitsTest, CreateModelRefusesAModelOverMaxModelBytesWithItsSize) {
  // 4,096 classes x 16,384 features: about 2 GB of state at the default
  // hash_bits, over the default 1 GiB.
  const v1::ModelConfig config = Config(v1::TASK_MULTICLASS, 16384, 4096);
  const grpc::Status s = CreateWith("big", config);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  const uint64_t bytes = ModelStateBytes(*WithDefaults(FromProto(config)));
  EXPECT_GT(bytes, uint64_t{1} << 30);
  EXPECT_THAT(s.error_message(), HasSubstr(absl::StrCat(bytes, " bytes")));
  EXPECT_THAT(s.error_message(), HasSubstr("--max_model_bytes"));
}

TEST_F(LimitsTest, AModelAtMaxModelBytesCheckpointsSnapshotsAndRestarts) {
  v1::ModelConfig config = Config(v1::TASK_MULTICLASS, 40, 5);
  config.set_hash_bits(10);
  config.add_interactions();  // "" x ""
  const absl::StatusOr<ModelConfig> full = WithDefaults(FromProto(config));
  ASSERT_TRUE(full.ok());
  StreamfitServer::Options options;
  options.limits.max_model_bytes = ModelStateBytes(*full);
  Restart(options);
  ASSERT_TRUE(CreateWith("m", config).ok());
  v1::ModelConfig wider = config;
  wider.set_num_features(41);
  EXPECT_EQ(CreateWith("wider", wider).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);

  // Fill every hashed slot: the largest state this model can have.
  std::vector<v1::ObserveRequest> messages;
  for (uint32_t i = 0; i < 64; ++i) {
    v1::ObserveRequest m;
    m.set_model("m");
    v1::Example* e = m.add_examples();
    for (int j = 0; j < 40; ++j) e->mutable_features()->add_dense(i + j);
    for (uint32_t f = 0; f < 64; ++f) {
      e->mutable_features()->add_indices(i * 64 + f);
      e->mutable_features()->add_values(1);
    }
    e->set_label(i % 5);
    messages.push_back(m);
  }
  v1::ObserveResponse response;
  ASSERT_TRUE(Observe(messages, &response).ok());
  v1::ModelSnapshot before;
  ASSERT_TRUE(SnapshotModel(*stub_, "m", &before).ok());
  EXPECT_LE(before.ByteSizeLong(), SnapshotBytesBound(*full));
  Restart(options);  // a final checkpoint, then recovery from it
  v1::ModelSnapshot after;
  ASSERT_TRUE(SnapshotModel(*stub_, "m", &after).ok());
  EXPECT_EQ(after.model_version(), 64u);
  EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString());
  // Restore at the limit works too.
  EXPECT_TRUE(RestoreModel(*stub_, "m", before).ok());
}

TEST_F(LimitsTest, RestoreRefusesStateOutOfRangeAndLeavesTheModelUnchanged) {
  Create("m", v1::TASK_REGRESSION, 3);
  v1::ObserveResponse response;
  ASSERT_TRUE(
      Observe({Message("m", LinearExamples(20, 4), 0, 20)}, &response).ok());
  v1::ModelSnapshot good;
  ASSERT_TRUE(SnapshotModel(*stub_, "m", &good).ok());
  struct Case {
    const char* tensor;
    int index;
    double value;
    const char* field;
  };
  for (const Case& c : std::vector<Case>{
           {"optimizer", 5, -1, "optimizer[5]"},
           {"feature_count", 0, -5, "feature_count[0]"},
           {"feature_mean", 1, 1e219, "feature_mean[1]"},
       }) {
    v1::ModelSnapshot bad = good;
    for (v1::Tensor& t : *bad.mutable_state()) {
      if (t.name() == c.tensor) t.set_values(c.index, c.value);
    }
    const grpc::Status s = RestoreModel(*stub_, "m", bad);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(s.error_message(), HasSubstr(c.field));
  }
  v1::ModelSnapshot shape = good;
  for (v1::Tensor& t : *shape.mutable_state()) {
    if (t.name() == "weights") {
      t.set_shape(0, 3);
      t.set_shape(1, 1);
    }
  }
  EXPECT_EQ(RestoreModel(*stub_, "m", shape).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::ModelSnapshot now;
  ASSERT_TRUE(SnapshotModel(*stub_, "m", &now).ok());
  EXPECT_EQ(now.SerializeAsString(), good.SerializeAsString());
}

TEST_F(LimitsTest, RestoreOfAnotherShapeNeedsAllowReshape) {
  Create("small", v1::TASK_REGRESSION, 10);
  Create("other", v1::TASK_BINARY, 30);
  v1::ModelSnapshot binary;
  ASSERT_TRUE(SnapshotModel(*stub_, "other", &binary).ok());
  const grpc::Status refused = RestoreModel(*stub_, "small", binary);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(),
              HasSubstr("the snapshot is binary, 30 features"));
  EXPECT_THAT(refused.error_message(),
              HasSubstr("'small' is regression, 10 features"));
  v1::ModelInfo info;
  ASSERT_TRUE(Get("small", &info).ok());
  EXPECT_EQ(info.config().task(), v1::TASK_REGRESSION);

  ASSERT_TRUE(RestoreModel(*stub_, "small", binary, nullptr,
                           /*allow_reshape=*/true)
                  .ok());
  Restart();
  ASSERT_TRUE(Get("small", &info).ok());
  EXPECT_EQ(info.config().task(), v1::TASK_BINARY);
  EXPECT_EQ(info.config().num_features(), 30u);
}

TEST_F(LimitsTest, ObserveRefusesExtremeLabelsAndPoisonInteractions) {
  Create("r", v1::TASK_REGRESSION, 3);
  v1::ObserveRequest request = Message("r", LinearExamples(3, 5), 0, 3);
  request.mutable_examples(1)->set_label(1e308);
  v1::ObserveResponse response;
  grpc::Status s = Observe({request}, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("example 1: label"));

  v1::ModelConfig config = Config(v1::TASK_REGRESSION, 1);
  config.add_interactions();  // "" x "": every pair of index features
  ASSERT_TRUE(CreateWith("q", config).ok());
  v1::ObserveRequest wide;
  wide.set_model("q");
  v1::Example* e = wide.add_examples();
  e->mutable_features()->add_dense(0);
  for (uint32_t f = 0; f < 6000; ++f) {
    e->mutable_features()->add_indices(f);
    e->mutable_features()->add_values(1);
  }
  s = Observe({wide}, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("example 0: 6000 sparse features"));
  v1::ModelInfo info;
  ASSERT_TRUE(Get("q", &info).ok());
  EXPECT_EQ(info.freshness().admitted_version(), 0u);  // nothing logged
}

TEST_F(LimitsTest, ARecordThatFailsValidationOnReplayMarksTheModelFailed) {
  Create("bad", v1::TASK_MULTICLASS, 2, 3);
  Create("good", v1::TASK_REGRESSION, 3);
  std::vector<v1::ObserveRequest> messages;
  v1::ObserveRequest m;
  m.set_model("bad");
  for (int i = 0; i < 20; ++i) {
    v1::Example* e = m.add_examples();
    e->mutable_features()->add_dense(i);
    e->mutable_features()->add_dense(-i);
    e->set_label(i % 3);
  }
  v1::ObserveResponse response;
  ASSERT_TRUE(Observe({m}, &response).ok());
  v1::ModelSnapshot at20;
  ASSERT_TRUE(SnapshotModel(*stub_, "bad", &at20).ok());
  server_->Shutdown(absl::Seconds(2));  // final checkpoint at version 20
  {
    // Records with valid CRCs: a class the model does not have (undefined
    // behaviour in the softmax loss if learned), then a valid one.
    auto log = SampleLog::Open(ModelDir("bad"), {}, nullptr);
    ASSERT_TRUE(log.ok()) << log.status();
    ExampleBatch poison;
    poison.num_features = 2;
    poison.Add(std::vector<float>{1, 2}, 7);
    ASSERT_TRUE((*log)->Append(20, poison).ok());
    ExampleBatch fine;
    fine.num_features = 2;
    fine.Add(std::vector<float>{1, 2}, 1);
    ASSERT_TRUE((*log)->Append(21, fine).ok());
  }
  Restart();  // starts, instead of exiting or crashing
  v1::ModelInfo info;
  ASSERT_TRUE(Get("bad", &info).ok());
  EXPECT_EQ(info.state(), v1::MODEL_FAILED);
  EXPECT_THAT(info.failure(), HasSubstr("log record at version 20"));
  EXPECT_THAT(info.failure(), HasSubstr("label 7"));
  EXPECT_EQ(info.model_version(), 20u);
  ASSERT_TRUE(Get("good", &info).ok());
  EXPECT_EQ(info.state(), v1::MODEL_READY);
  EXPECT_EQ(Health(""), 1);                      // the server serves
  EXPECT_EQ(Health("streamfit.v1.Learner"), 2);  // with a failed model

  // Predict serves the last good state; Observe is refused.
  v1::PredictRequest predict;
  predict.set_model("bad");
  predict.add_features()->add_dense(1);
  predict.mutable_features(0)->add_dense(2);
  v1::PredictResponse prediction;
  ASSERT_TRUE(Predict(predict, &prediction).ok());
  EXPECT_EQ(prediction.model_version(), 20u);
  const grpc::Status refused = Observe({m}, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr("failed"));

  Restart();  // and again: no crash loop
  ASSERT_TRUE(Get("bad", &info).ok());
  EXPECT_EQ(info.state(), v1::MODEL_FAILED);

  // Restore gives the model a new state and log: it learns again.
  ASSERT_TRUE(RestoreModel(*stub_, "bad", at20).ok());
  ASSERT_TRUE(Get("bad", &info).ok());
  EXPECT_EQ(info.state(), v1::MODEL_READY);
  ASSERT_TRUE(Observe({m}, &response).ok());
  int health = 0;
  for (int i = 0; i < 100 && health != 1; ++i) {  // the next health update
    absl::SleepFor(absl::Milliseconds(50));
    health = Health("streamfit.v1.Learner");
  }
  EXPECT_EQ(health, 1);
}

TEST_F(LimitsTest, ARecordOverTheWorkLimitOnReplayMarksTheModelFailed) {
  v1::ModelConfig config = Config(v1::TASK_REGRESSION, 1);
  config.add_interactions();
  ASSERT_TRUE(CreateWith("q", config).ok());
  server_->Shutdown(absl::Seconds(2));
  {
    // Written by a server without the per-example limit: 6,000 features
    // whose pairs would take about 1.9 GB to gather.
    auto log = SampleLog::Open(ModelDir("q"), {}, nullptr);
    ASSERT_TRUE(log.ok()) << log.status();
    ExampleBatch wide;
    wide.num_features = 1;
    for (uint32_t f = 0; f < 6000; ++f) wide.AddSparse(f, HashNamespace(""), 1);
    wide.Add(std::vector<float>{0}, 1);
    ASSERT_TRUE((*log)->Append(0, wide).ok());
  }
  Restart();
  v1::ModelInfo info;
  ASSERT_TRUE(Get("q", &info).ok());
  EXPECT_EQ(info.state(), v1::MODEL_FAILED);
  EXPECT_THAT(info.failure(), HasSubstr("6000 sparse features"));
  EXPECT_EQ(info.model_version(), 0u);
}

}  // namespace
}  // namespace streamfit::testing
