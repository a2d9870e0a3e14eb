// A fixture for tests of a real server whose file work goes through a
// FaultFileSystem: start, restart on the same data directory, the calls the
// tests make and the reference states they compare with.
#ifndef STREAMFIT_TESTS_SERVER_FAULT_SERVER_FIXTURE_H_
#define STREAMFIT_TESTS_SERVER_FAULT_SERVER_FIXTURE_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "tests/server/server_fixture.h"
#include "tests/testing/fault_file_system.h"

namespace streamfit::testing {

class FaultServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ =
        (std::filesystem::path(::testing::TempDir()) /
         ("streamfit_fault_" + std::to_string(::getpid()) + "_" +
          ::testing::UnitTest::GetInstance()->current_test_info()->name()))
            .string();
    std::filesystem::remove_all(data_dir_);
    examples_ = LinearExamples(200, 7);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(2));
    server_.reset();
    std::filesystem::remove_all(data_dir_);
  }

  void Start() {
    StreamfitServer::Options options;
    options.address = "127.0.0.1:0";
    options.metrics_address = metrics_address_;
    options.data_dir = data_dir_;
    options.default_model = "";
    options.storage = storage_;
    options.storage.file_system = &fs_;
    auto server = StreamfitServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::Learner::NewStub(grpc::CreateChannel(
        server_->address(), grpc::InsecureChannelCredentials()));
  }
  // A clean stop and a new server on the same directory, faults cleared.
  void Restart() {
    server_->Shutdown(absl::Seconds(2));
    server_.reset();
    fs_.Clear();
    Start();
  }

  grpc::Status CreateModel(const std::string& name) {
    v1::CreateModelRequest request;
    request.set_name(name);
    request.mutable_config()->set_task(v1::TASK_REGRESSION);
    request.mutable_config()->set_num_features(3);
    v1::ModelInfo info;
    grpc::ClientContext context;
    return stub_->CreateModel(&context, request, &info);
  }
  grpc::Status DeleteModel(const std::string& name) {
    v1::DeleteModelRequest request;
    request.set_name(name);
    v1::DeleteModelResponse response;
    grpc::ClientContext context;
    return stub_->DeleteModel(&context, request, &response);
  }
  // Observes `message` on a stream of its own.
  grpc::Status ObserveMessage(const v1::ObserveRequest& message) {
    v1::ObserveResponse response;
    grpc::ClientContext context;
    auto writer = stub_->Observe(&context, &response);
    writer->Write(message);
    writer->WritesDone();
    return writer->Finish();
  }
  // Observes examples [begin, end) in one message.
  grpc::Status ObserveRange(size_t begin, size_t end) {
    return ObserveMessage(Message("m", examples_, begin, end));
  }
  // Retries (bounded) until an Observe of [begin, end) is accepted: the
  // learner reopens a failed log in the background.
  grpc::Status ObserveOnceReopened(size_t begin, size_t end) {
    grpc::Status status;
    for (int i = 0; i < 200; ++i) {
      status = ObserveRange(begin, end);
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE) break;
      absl::SleepFor(absl::Milliseconds(25));
    }
    return status;
  }
  absl::StatusOr<v1::ModelInfo> GetModel(const std::string& name) {
    v1::GetModelRequest request;
    request.set_name(name);
    v1::ModelInfo info;
    grpc::ClientContext context;
    grpc::Status s = stub_->GetModel(&context, request, &info);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                          s.error_message());
    }
    return info;
  }
  // The model's version and state bytes.
  std::string State(const std::string& name) {
    v1::SnapshotRequest request;
    request.set_model(name);
    v1::ModelSnapshot snapshot;
    grpc::ClientContext context;
    grpc::Status s = stub_->Snapshot(&context, request, &snapshot);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::string out = std::to_string(snapshot.model_version());
    for (const auto& t : snapshot.state()) out += t.SerializeAsString();
    return out;
  }
  // The state of a fresh model fed examples [0, n) in `chunks`-sized
  // messages on another server (no faults): what the model must equal.
  std::string Reference(const std::vector<std::pair<size_t, size_t>>& ranges) {
    server_->Shutdown(absl::Seconds(2));
    server_.reset();
    const std::string dir = data_dir_;
    data_dir_ += "_reference";
    std::filesystem::remove_all(data_dir_);
    Start();
    EXPECT_TRUE(CreateModel("m").ok());
    for (const auto& [b, e] : ranges) EXPECT_TRUE(ObserveRange(b, e).ok());
    const std::string state = State("m");
    server_->Shutdown(absl::Seconds(2));
    server_.reset();
    std::filesystem::remove_all(data_dir_);
    data_dir_ = dir;
    Start();
    return state;
  }

  // Uploads `csv` in `chunk`-byte messages (3 features, label first).
  grpc::Status UploadDataset(const std::string& name, const std::string& csv,
                             size_t chunk, v1::DatasetInfo* info) {
    grpc::ClientContext context;
    auto writer = stub_->UploadDataset(&context, info);
    for (size_t i = 0; i < csv.size(); i += chunk) {
      v1::UploadDatasetRequest request;
      if (i == 0) request.set_name(name);
      request.set_data(csv.substr(i, chunk));
      if (!writer->Write(request)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }
  std::vector<v1::DatasetInfo> ListDatasets() {
    v1::ListDatasetsResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(
        stub_->ListDatasets(&context, v1::ListDatasetsRequest(), &response)
            .ok());
    return {response.datasets().begin(), response.datasets().end()};
  }
  std::vector<std::string> DatasetFiles() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(
             std::filesystem::path(data_dir_) / "datasets")) {
      out.push_back(e.path().filename().string());
    }
    return out;
  }
  // Predict's p99 latency on model "m" over `span`, one call at a time.
  absl::Duration PredictP99(absl::Duration span) {
    std::vector<absl::Duration> out;
    const absl::Time end = absl::Now() + span;
    while (absl::Now() < end) {
      v1::PredictRequest request;
      request.set_model("m");
      *request.add_features() = examples_[0].features();
      v1::PredictResponse response;
      grpc::ClientContext context;
      const absl::Time start = absl::Now();
      EXPECT_TRUE(stub_->Predict(&context, request, &response).ok());
      out.push_back(absl::Now() - start);
    }
    std::sort(out.begin(), out.end());
    return out[out.size() * 99 / 100];
  }

  // What the next Start uses: storage options (the file system is fs_) and
  // the metrics endpoint's address ("": none).
  StorageOptions storage_;
  std::string metrics_address_;
  FaultFileSystem fs_;
  std::string data_dir_;
  std::vector<v1::Example> examples_;
  std::unique_ptr<StreamfitServer> server_;
  std::unique_ptr<v1::Learner::Stub> stub_;
};

}  // namespace streamfit::testing

#endif  // STREAMFIT_TESTS_SERVER_FAULT_SERVER_FIXTURE_H_
