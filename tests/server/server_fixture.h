// A real streamfit server on a loopback port (port 0, read back) with a gRPC
// stub connected to it, for integration tests.
#ifndef STREAMFIT_TESTS_SERVER_SERVER_FIXTURE_H_
#define STREAMFIT_TESTS_SERVER_SERVER_FIXTURE_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model/model_trainer.h"
#include "server/proto_convert.h"
#include "server/server.h"
#include "streamfit/v1/streamfit.grpc.pb.h"

namespace streamfit::testing {

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A parameterized test's name holds a '/', which would make the
    // directory a child of one TearDown leaves behind.
    std::string test_name =
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(test_name.begin(), test_name.end(), '/', '_');
    data_dir_ = std::filesystem::path(::testing::TempDir()) /
                ("streamfit_" + std::to_string(::getpid()) + "_" + test_name);
    StreamfitServer::Options options;
    options.learner = learner_options_;
    StartServer(std::move(options));
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(2));
    std::filesystem::remove_all(data_dir_);
  }

  // Starts a server with `options` on a loopback port and data_dir_ (both
  // filled in) and connects stub_ to it.
  void StartServer(StreamfitServer::Options options) {
    options.address = "127.0.0.1:0";
    options.data_dir = data_dir_.string();
    auto server = StreamfitServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_GT(server_->port(), 0);
    stub_ = v1::Learner::NewStub(grpc::CreateChannel(
        server_->address(), grpc::InsecureChannelCredentials()));
  }
  // Stops the server cleanly and starts one with `options` on the same
  // data directory, as a restart of the process would.
  void Restart(StreamfitServer::Options options = {}) {
    server_->Shutdown(absl::Seconds(2));
    server_.reset();
    StartServer(std::move(options));
  }

  // Creates a model (`config` with the task and sizes given); fails the
  // test on error.
  v1::ModelInfo Create(const std::string& name, v1::Task task,
                       uint32_t features, uint32_t classes = 0,
                       const v1::ModelConfig& config = {}) {
    v1::CreateModelRequest request;
    request.set_name(name);
    *request.mutable_config() = config;
    request.mutable_config()->set_task(task);
    request.mutable_config()->set_num_features(features);
    request.mutable_config()->set_num_classes(classes);
    v1::ModelInfo info;
    grpc::ClientContext context;
    grpc::Status status = stub_->CreateModel(&context, request, &info);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return info;
  }

  // Sends `messages` on one Observe stream and returns its final status.
  grpc::Status Observe(const std::vector<v1::ObserveRequest>& messages,
                       v1::ObserveResponse* response) {
    grpc::ClientContext context;
    auto writer = stub_->Observe(&context, response);
    for (const auto& m : messages) {
      if (!writer->Write(m)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  // Observes examples [begin, end) into model "m" in messages of 100, with
  // labels negated when `negate_labels` (an abrupt change of the true
  // weights); fails the test on error.
  void ObserveLabeled(const std::vector<v1::Example>& examples, size_t begin,
                      size_t end, bool negate_labels) {
    std::vector<v1::ObserveRequest> messages;
    for (size_t i = begin; i < end; i += 100) {
      v1::ObserveRequest& message = messages.emplace_back();
      message.set_model("m");
      for (size_t j = i; j < i + 100 && j < end; ++j) {
        v1::Example* e = message.add_examples();
        *e = examples[j];
        if (negate_labels) e->set_label(-e->label());
      }
    }
    v1::ObserveResponse response;
    ASSERT_TRUE(Observe(messages, &response).ok());
  }

  Learner::Options learner_options_;
  std::filesystem::path data_dir_;
  std::unique_ptr<StreamfitServer> server_;
  std::unique_ptr<v1::Learner::Stub> stub_;
};

// `n` examples of y = 3 x0 - 2 x1 + 0.5 x2 + 1 + noise, features spread over
// different scales.
inline std::vector<v1::Example> LinearExamples(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  std::vector<v1::Example> out(n);
  for (auto& e : out) {
    const float x0 = normal(rng), x1 = 100 * normal(rng),
                x2 = 0.01f * normal(rng);
    e.mutable_features()->add_dense(x0);
    e.mutable_features()->add_dense(x1);
    e.mutable_features()->add_dense(x2);
    e.set_label(3 * x0 - 0.02 * x1 + 50 * x2 + 1 + 0.1 * normal(rng));
  }
  return out;
}

// Snapshot of `model` into `snapshot`, also saved on the server as `to_file`
// when that is not empty.
inline grpc::Status SnapshotModel(v1::Learner::Stub& stub,
                                  const std::string& model,
                                  v1::ModelSnapshot* snapshot,
                                  const std::string& to_file = "") {
  v1::SnapshotRequest request;
  request.set_model(model);
  request.set_to_file(to_file);
  grpc::ClientContext context;
  return stub.Snapshot(&context, request, snapshot);
}

// Restores `snapshot` into `model`; the model's new info goes to `info` when
// given.
inline grpc::Status RestoreModel(v1::Learner::Stub& stub,
                                 const std::string& model,
                                 const v1::ModelSnapshot& snapshot,
                                 v1::ModelInfo* info = nullptr,
                                 bool allow_reshape = false) {
  v1::RestoreRequest request;
  request.set_model(model);
  *request.mutable_snapshot() = snapshot;
  request.set_allow_reshape(allow_reshape);
  v1::ModelInfo ignored;
  grpc::ClientContext context;
  return stub.Restore(&context, request, info != nullptr ? info : &ignored);
}

// Predicts `features` with `model` once it reaches `min_version`, waiting at
// most five seconds (DEADLINE_EXCEEDED after).
inline grpc::Status PredictAtVersion(v1::Learner::Stub& stub,
                                     const std::string& model,
                                     uint64_t min_version,
                                     const v1::Features& features,
                                     v1::PredictResponse* response) {
  v1::PredictRequest request;
  request.set_model(model);
  request.set_min_version(min_version);
  *request.add_features() = features;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  return stub.Predict(&context, request, response);
}

inline v1::ObserveRequest Message(const std::string& model,
                                  const std::vector<v1::Example>& examples,
                                  size_t begin, size_t end) {
  v1::ObserveRequest r;
  r.set_model(model);
  for (size_t i = begin; i < end; ++i) *r.add_examples() = examples[i];
  return r;
}

// All of `examples` for `model`, `per_message` to an Observe message.
inline std::vector<v1::ObserveRequest> Messages(
    const std::string& model, const std::vector<v1::Example>& examples,
    size_t per_message = 100) {
  std::vector<v1::ObserveRequest> messages;
  for (size_t i = 0; i < examples.size(); i += per_message) {
    messages.push_back(Message(model, examples, i,
                               std::min(examples.size(), i + per_message)));
  }
  return messages;
}

// A model of `config` that learned the dense `examples` offline, in order,
// as the server learns them.
inline absl::StatusOr<ModelTrainer> LearnedOffline(
    const v1::ModelConfig& config, const std::vector<v1::Example>& examples) {
  absl::StatusOr<ModelTrainer> trainer =
      ModelTrainer::Create(FromProto(config));
  if (!trainer.ok()) return trainer.status();
  for (const v1::Example& e : examples) {
    const auto& d = e.features().dense();
    trainer->Learn({d.data(), static_cast<size_t>(d.size())}, e.label());
  }
  return trainer;
}

}  // namespace streamfit::testing

#endif  // STREAMFIT_TESTS_SERVER_SERVER_FIXTURE_H_
