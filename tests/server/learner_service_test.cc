// Integration tests: the real server on a loopback port, spoken to over gRPC.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/model/linear_model.h"
#include "core/model/model_trainer.h"
#include "server/proto_convert.h"
#include "tests/server/server_fixture.h"

namespace streamfit::testing {
namespace {

using ::testing::HasSubstr;

// The offline model: a LinearModel with the server's config fed `examples`.
LinearModel Replay(const v1::ModelConfig& config,
                   const std::vector<v1::Example>& examples, size_t count) {
  absl::StatusOr<ModelTrainer> trainer =
      ModelTrainer::Create(FromProto(config));
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  for (size_t i = 0; i < count; ++i) {
    const auto& d = examples[i].features().dense();
    trainer->Learn({d.data(), static_cast<size_t>(d.size())},
                   examples[i].label(),
                   examples[i].weight() == 0 ? 1 : examples[i].weight());
  }
  return std::move(*trainer).TakeModel();
}

class LearnerServiceTest : public ServerTest {};

TEST_F(LearnerServiceTest, CreateGetListDelete) {
  v1::ModelInfo info = Create("m1", v1::TASK_MULTICLASS, 4, 3);
  EXPECT_EQ(info.name(), "m1");
  EXPECT_EQ(info.model_version(), 0u);
  EXPECT_EQ(info.config().num_classes(), 3u);
  EXPECT_TRUE(info.config().has_learning_rate());  // defaults filled in
  Create("m0", v1::TASK_REGRESSION, 2);

  {
    v1::CreateModelRequest request;
    request.set_name("m1");
    request.mutable_config()->set_task(v1::TASK_BINARY);
    request.mutable_config()->set_num_features(1);
    grpc::ClientContext context;
    v1::ModelInfo out;
    EXPECT_EQ(stub_->CreateModel(&context, request, &out).error_code(),
              grpc::StatusCode::ALREADY_EXISTS);
  }
  {
    grpc::ClientContext context;
    v1::ListModelsResponse list;
    ASSERT_TRUE(stub_->ListModels(&context, {}, &list).ok());
    ASSERT_EQ(list.models_size(), 2);
    EXPECT_EQ(list.models(0).name(), "m0");
    EXPECT_EQ(list.models(1).name(), "m1");
  }
  {
    grpc::ClientContext context;
    v1::DeleteModelRequest request;
    request.set_name("m1");
    v1::DeleteModelResponse out;
    ASSERT_TRUE(stub_->DeleteModel(&context, request, &out).ok());
  }
  for (const char* name : {"m1", "never"}) {
    grpc::ClientContext context;
    v1::GetModelRequest request;
    request.set_name(name);
    v1::ModelInfo out;
    grpc::Status status = stub_->GetModel(&context, request, &out);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_THAT(status.error_message(), HasSubstr(name));
  }
  {
    grpc::ClientContext context;
    v1::DeleteModelRequest request;
    request.set_name("m1");
    v1::DeleteModelResponse out;
    EXPECT_EQ(stub_->DeleteModel(&context, request, &out).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
}

TEST_F(LearnerServiceTest, CreateRejectsBadNamesAndConfigs) {
  struct Case {
    std::string name;
    v1::Task task;
    uint32_t features, classes;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"", v1::TASK_BINARY, 3, 0, "name is empty"},
           {"a/b", v1::TASK_BINARY, 3, 0, "may only hold"},
           {"ok", v1::TASK_UNSPECIFIED, 3, 0, "task"},
           {"ok", v1::TASK_BINARY, 0, 0, "num_features"},
           {"ok", v1::TASK_MULTICLASS, 3, 1, "num_classes"},
       }) {
    v1::CreateModelRequest request;
    request.set_name(c.name);
    request.mutable_config()->set_task(c.task);
    request.mutable_config()->set_num_features(c.features);
    request.mutable_config()->set_num_classes(c.classes);
    grpc::ClientContext context;
    v1::ModelInfo out;
    grpc::Status status = stub_->CreateModel(&context, request, &out);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.message;
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
  }
  grpc::ClientContext context;
  v1::ListModelsResponse list;
  ASSERT_TRUE(stub_->ListModels(&context, {}, &list).ok());
  EXPECT_EQ(list.models_size(), 0);
}

TEST_F(LearnerServiceTest, ObservePredictSnapshotMatchTheOfflineModel) {
  const v1::ModelInfo info = Create("lin", v1::TASK_REGRESSION, 3);
  const auto examples = LinearExamples(1500, 7);
  std::vector<v1::ObserveRequest> messages;
  for (size_t i = 0; i < examples.size(); i += 64) {
    messages.push_back(
        Message("lin", examples, i, std::min(examples.size(), i + 64)));
  }
  v1::ObserveResponse response;
  ASSERT_TRUE(Observe(messages, &response).ok());
  EXPECT_EQ(response.accepted(), 1500u);
  EXPECT_EQ(response.model_version(), 1500u);

  const LinearModel offline = Replay(info.config(), examples, 1500);
  v1::PredictRequest request;
  request.set_model("lin");
  *request.add_features() = examples[3].features();
  *request.add_features() = examples[4].features();
  v1::PredictResponse prediction;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Predict(&context, request, &prediction).ok());
  }
  EXPECT_EQ(prediction.model_version(), 1500u);
  ASSERT_EQ(prediction.predictions_size(), 2);
  for (int i = 0; i < 2; ++i) {
    Prediction expected;
    const auto& d = examples[3 + i].features().dense();
    offline.Predict({d.data(), static_cast<size_t>(d.size())}, expected);
    EXPECT_EQ(prediction.predictions(i).value(), expected.value);
    EXPECT_NEAR(prediction.predictions(i).value(), examples[3 + i].label(),
                1.0);
  }

  v1::ModelSnapshot snapshot;
  {
    grpc::ClientContext context;
    v1::SnapshotRequest s;
    s.set_model("lin");
    ASSERT_TRUE(stub_->Snapshot(&context, s, &snapshot).ok());
  }
  EXPECT_EQ(snapshot.model_version(), 1500u);
  // Raw-space weights recover the generating function.
  ASSERT_EQ(snapshot.weights_size(), 3);
  EXPECT_NEAR(snapshot.weights(0), 3, 0.1);
  EXPECT_NEAR(snapshot.weights(1), -0.02, 0.002);
  EXPECT_NEAR(snapshot.weights(2), 50, 5);
  EXPECT_NEAR(snapshot.bias(0), 1, 0.1);
  // The internal state equals the offline model's, bit for bit.
  const auto state = offline.ExportState();
  ASSERT_EQ(snapshot.state_size(), static_cast<int>(state.size()));
  for (size_t t = 0; t < state.size(); ++t) {
    EXPECT_EQ(snapshot.state(t).name(), state[t].name);
    EXPECT_THAT(snapshot.state(t).values(),
                ::testing::ElementsAreArray(state[t].values))
        << state[t].name;
  }

  v1::ModelInfo after;
  {
    grpc::ClientContext context;
    v1::GetModelRequest g;
    g.set_name("lin");
    ASSERT_TRUE(stub_->GetModel(&context, g, &after).ok());
  }
  EXPECT_EQ(after.metrics().samples_seen(), 1500u);
  EXPECT_EQ(after.metrics().recent_window(), 1000u);
  EXPECT_GT(after.metrics().progressive_loss(), after.metrics().recent_loss());
}

TEST_F(LearnerServiceTest, BadObserveMessageIsRejectedWholeAndChangesNothing) {
  Create("m", v1::TASK_MULTICLASS, 3, 4);
  const auto examples = LinearExamples(20, 1);
  auto good = Message("m", examples, 0, 10);
  for (auto& e : *good.mutable_examples()) e.set_label(1);

  struct Case {
    std::function<void(v1::Example&)> spoil;
    grpc::StatusCode code;
    const char* message;
  };
  const std::vector<Case> cases = {
      {[](v1::Example& e) { e.mutable_features()->set_dense(1, NAN); },
       grpc::StatusCode::INVALID_ARGUMENT,
       "example 2: features.dense[1] is NaN"},
      {[](v1::Example& e) { e.mutable_features()->set_dense(0, INFINITY); },
       grpc::StatusCode::INVALID_ARGUMENT,
       "example 2: features.dense[0] is inf"},
      {[](v1::Example& e) { e.mutable_features()->add_dense(1); },
       grpc::StatusCode::INVALID_ARGUMENT, "example 2: features.dense has 4"},
      {[](v1::Example& e) { e.set_label(4); },
       grpc::StatusCode::INVALID_ARGUMENT, "example 2: label 4"},
      {[](v1::Example& e) { e.set_label(NAN); },
       grpc::StatusCode::INVALID_ARGUMENT, "example 2: label NaN"},
      {[](v1::Example& e) { e.set_weight(-1); },
       grpc::StatusCode::INVALID_ARGUMENT, "example 2: weight -1"},
  };
  uint64_t version = 0;
  for (const Case& c : cases) {
    auto bad = good;
    c.spoil(*bad.mutable_examples(2));
    v1::ObserveResponse response;
    // A good message, then the bad one, then a good one that is never read.
    grpc::Status status = Observe({good, bad, good}, &response);
    EXPECT_EQ(status.error_code(), c.code) << c.message;
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
    version += 10;  // only the first message was applied

    // G3: the model is exactly the good prefix.
    v1::PredictResponse prediction;
    ASSERT_TRUE(PredictAtVersion(*stub_, "m", version, examples[0].features(),
                                 &prediction)
                    .ok());
    EXPECT_EQ(prediction.model_version(), version);
  }
  v1::ObserveResponse response;
  EXPECT_EQ(Observe({Message("nope", examples, 0, 1)}, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Observe({Message("", examples, 0, 1)}, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  auto other = good;
  other.set_model("other");
  EXPECT_EQ(Observe({good, other}, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(LearnerServiceTest, DeletingAModelEndsItsOpenStreamsWithAnError) {
  Create("m", v1::TASK_REGRESSION, 3);
  const auto examples = LinearExamples(64, 3);
  const v1::ObserveRequest message = Message("m", examples, 0, 64);
  const auto deadline = [] {
    return std::chrono::system_clock::now() + std::chrono::seconds(30);
  };
  // One stream of each kind, each with a message taken before the delete.
  grpc::ClientContext observe_context, stream_context;
  observe_context.set_deadline(deadline());
  stream_context.set_deadline(deadline());
  v1::ObserveResponse response;
  auto writer = stub_->Observe(&observe_context, &response);
  ASSERT_TRUE(writer->Write(message));
  auto stream = stub_->ObserveStream(&stream_context);
  ASSERT_TRUE(stream->Write(message));
  v1::ObserveAck ack;
  ASSERT_TRUE(stream->Read(&ack));
  EXPECT_EQ(ack.accepted(), 64u);
  // Until both first messages are admitted (so each stream is bound to the
  // model): bounded.
  uint64_t admitted = 0;
  for (int i = 0; i < 10000 && admitted < 128; ++i) {
    grpc::ClientContext context;
    v1::GetModelRequest request;
    request.set_name("m");
    v1::ModelInfo info;
    ASSERT_TRUE(stub_->GetModel(&context, request, &info).ok());
    admitted = info.freshness().admitted_version();
    if (admitted < 128)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(admitted, 128u);
  {
    grpc::ClientContext context;
    v1::DeleteModelRequest request;
    request.set_name("m");
    v1::DeleteModelResponse out;
    ASSERT_TRUE(stub_->DeleteModel(&context, request, &out).ok());
  }
  // Both calls end with the learner's refusal (not a hang, not OK): a
  // message sent after the delete goes to a stopped learner.
  for (int i = 0; i < 4; ++i) {
    if (!writer->Write(message)) break;
  }
  writer->WritesDone();
  const grpc::Status observe = writer->Finish();
  EXPECT_EQ(observe.error_code(), grpc::StatusCode::ABORTED)
      << observe.error_message();
  for (int i = 0; i < 4; ++i) {
    if (!stream->Write(message)) break;
  }
  stream->WritesDone();
  while (stream->Read(&ack)) {
  }
  const grpc::Status observe_stream = stream->Finish();
  EXPECT_EQ(observe_stream.error_code(), grpc::StatusCode::ABORTED)
      << observe_stream.error_message();
  EXPECT_THAT(observe_stream.error_message(), HasSubstr("stopped"));

  // The name is free again and the new model starts from nothing.
  const v1::ModelInfo fresh = Create("m", v1::TASK_REGRESSION, 3);
  EXPECT_EQ(fresh.model_version(), 0u);
  EXPECT_TRUE(Observe({message}, &response).ok());
  EXPECT_EQ(response.model_version(), 64u);
}

TEST_F(LearnerServiceTest, PredictRejectsBadInputWhole) {
  Create("b", v1::TASK_BINARY, 2);
  v1::PredictRequest request;
  request.set_model("b");
  request.add_features()->add_dense(1);
  request.mutable_features(0)->add_dense(2);
  request.add_features()->add_dense(1);  // too short
  grpc::ClientContext context;
  v1::PredictResponse response;
  grpc::Status status = stub_->Predict(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("features 1: dense has 1"));

  request.set_model("missing");
  grpc::ClientContext context2;
  EXPECT_EQ(stub_->Predict(&context2, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(LearnerServiceTest, MinVersionWaitsForWritesAndTimesOut) {
  Create("w", v1::TASK_REGRESSION, 3);
  const auto examples = LinearExamples(100, 3);
  v1::PredictRequest request;
  request.set_model("w");
  request.set_min_version(100);
  *request.add_features() = examples[0].features();

  {  // Nobody writes: the deadline ends the wait.
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(200));
    v1::PredictResponse response;
    EXPECT_EQ(stub_->Predict(&context, request, &response).error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  // A waiting reader is answered once a producer's writes are applied.
  v1::PredictResponse response;
  grpc::Status status;
  std::thread reader([&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    status = stub_->Predict(&context, request, &response);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  v1::ObserveResponse ack;
  ASSERT_TRUE(Observe({Message("w", examples, 0, 100)}, &ack).ok());
  reader.join();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.model_version(), 100u);
}

// G1 under concurrency: producers send one-message streams (whose acks give
// each batch's place in the log) while readers predict; every prediction
// equals the offline model's at the version it reports.
TEST_F(LearnerServiceTest, EveryPredictionMatchesTheReplayAtItsVersion) {
  const v1::ModelInfo info = Create("g1", v1::TASK_BINARY, 3);
  constexpr int kProducers = 3, kBatchesEach = 100, kBatch = 16;
  constexpr int kReaders = 3;
  std::vector<std::vector<v1::Example>> batches(kProducers * kBatchesEach);
  for (size_t b = 0; b < batches.size(); ++b) {
    batches[b] = LinearExamples(kBatch, 100 + b);
    for (auto& e : batches[b]) e.set_label(e.label() > 1 ? 1 : 0);
  }
  std::vector<uint64_t> end_version(batches.size());
  std::atomic<int> producers_left{kProducers};

  struct Seen {
    uint64_t version;
    int input;
    double value;
  };
  const auto probes = LinearExamples(4, 99);
  std::vector<std::vector<Seen>> seen(kReaders);
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (int k = 0; k < kBatchesEach; ++k) {
        const int b = p * kBatchesEach + k;
        v1::ObserveResponse ack;
        grpc::Status s = Observe({Message("g1", batches[b], 0, kBatch)}, &ack);
        ASSERT_TRUE(s.ok()) << s.error_message();
        end_version[b] = ack.model_version();
      }
      --producers_left;
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      uint64_t last = 0;
      for (int i = 0; i < 5000 && (producers_left > 0 || i < 10); ++i) {
        v1::PredictRequest request;
        request.set_model("g1");
        for (const auto& e : probes) *request.add_features() = e.features();
        grpc::ClientContext context;
        v1::PredictResponse response;
        ASSERT_TRUE(stub_->Predict(&context, request, &response).ok());
        ASSERT_GE(response.model_version(), last);  // never goes back
        last = response.model_version();
        for (int j = 0; j < response.predictions_size(); ++j) {
          seen[r].push_back({last, j, response.predictions(j).value()});
        }
      }
    });
  }
  for (auto& t : threads) t.join();

  // Rebuild the log order from the acks and replay it.
  std::vector<int> order(batches.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return end_version[a] < end_version[b]; });
  std::vector<v1::Example> log;
  for (size_t i = 0; i < order.size(); ++i) {
    ASSERT_EQ(end_version[order[i]], (i + 1) * kBatch);
    log.insert(log.end(), batches[order[i]].begin(), batches[order[i]].end());
  }
  std::vector<Seen> all;
  for (auto& s : seen) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.begin(), all.end(),
            [](const Seen& a, const Seen& b) { return a.version < b.version; });
  absl::StatusOr<ModelTrainer> trainer =
      ModelTrainer::Create(FromProto(info.config()));
  ASSERT_TRUE(trainer.ok());
  size_t applied = 0, distinct_versions = 0;
  uint64_t previous = ~0ull;
  for (const Seen& s : all) {
    for (; applied < s.version; ++applied) {
      const auto& d = log[applied].features().dense();
      trainer->Learn({d.data(), static_cast<size_t>(d.size())},
                     log[applied].label());
    }
    if (s.version != previous) ++distinct_versions;
    previous = s.version;
    Prediction expected;
    const auto& d = probes[s.input].features().dense();
    trainer->model().Predict({d.data(), static_cast<size_t>(d.size())},
                             expected);
    ASSERT_EQ(s.value, expected.value) << "at version " << s.version;
  }
  EXPECT_GT(distinct_versions, 2u);  // readers saw training in progress
}

}  // namespace
}  // namespace streamfit::testing
