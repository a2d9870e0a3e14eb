// The server's lifecycle: the health-only endpoint while recovering, and the
// structured events of recovery, retrain jobs and the shutdown drain, in
// text and JSON. (A real server process whose recovery is slow, and SIGTERM
// with --shutdown_drain_s: tests/interop/operations_test.py.)
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <mutex>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/logging.h"
#include "server/recovery_health.h"
#include "tests/server/server_fixture.h"

namespace streamfit::testing {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::ContainsRegex;

constexpr auto kWait = std::chrono::seconds(30);

std::chrono::system_clock::time_point Deadline() {
  return std::chrono::system_clock::now() + kWait;
}

grpc::Status Check(grpc::health::v1::Health::Stub& stub,
                   const std::string& service, HealthCheckResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  HealthCheckRequest request;
  request.set_service(service);
  return stub.Check(&context, request, response);
}

TEST(RecoveryHealthServerTest, AnswersNotServingAndRefusesEveryOtherCall) {
  auto server = RecoveryHealthServer::Start(
      "127.0.0.1:0", grpc::InsecureServerCredentials(), kLearnerServiceName);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  const std::string address = absl::StrCat("127.0.0.1:", port);
  auto channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);

  for (const std::string service : {"", kLearnerServiceName}) {
    HealthCheckResponse response;
    const grpc::Status status = Check(*health, service, &response);
    ASSERT_TRUE(status.ok()) << service << ": " << status.error_message();
    EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING) << service;
  }
  HealthCheckResponse response;
  EXPECT_EQ(Check(*health, "streamfit.v1.Nope", &response).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // A Learner call is refused with a status clients retry.
  auto learner = v1::Learner::NewStub(channel);
  grpc::ClientContext list_context;
  list_context.set_deadline(Deadline());
  v1::ListModelsResponse models;
  const grpc::Status listed =
      learner->ListModels(&list_context, v1::ListModelsRequest(), &models);
  EXPECT_EQ(listed.error_code(), grpc::StatusCode::UNAVAILABLE)
      << listed.error_message();

  // Watch sends NOT_SERVING and holds the call until the server goes.
  grpc::ClientContext watch_context;
  watch_context.set_deadline(Deadline());
  HealthCheckRequest request;
  request.set_service(kLearnerServiceName);
  auto watch = health->Watch(&watch_context, request);
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);

  server->reset();  // cancels the Watch and closes the port
  EXPECT_FALSE(watch->Read(&response));
  EXPECT_FALSE(watch->Finish().ok());
  // The port is free again for the full server.
  auto again = RecoveryHealthServer::Start(
      address, grpc::InsecureServerCredentials(), kLearnerServiceName);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->port(), port);
}

TEST(RecoveryHealthServerTest, AnAddressInUseIsUnavailable) {
  auto first = RecoveryHealthServer::Start(
      "127.0.0.1:0", grpc::InsecureServerCredentials(), kLearnerServiceName);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = RecoveryHealthServer::Start(
      absl::StrCat("127.0.0.1:", (*first)->port()),
      grpc::InsecureServerCredentials(), kLearnerServiceName);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

// Keeps the lines logged to it; readable while other threads log.
class CapturingSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string Text() {
    std::lock_guard<std::mutex> lock(mutex_);
    return text_;
  }
  void Clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    text_.clear();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    spdlog::memory_buf_t line;
    formatter_->format(message, line);
    text_.append(line.data(), line.size());
  }
  void flush_() override {}

 private:
  std::string text_;  // guarded by mutex_
};

// Captures the log (in the parameter's format) from before the server starts.
class LifecycleLogTest : public ServerTest,
                         public ::testing::WithParamInterface<logging::Format> {
 protected:
  void SetUp() override {
    logging::Init(GetParam(), sink_);
    ServerTest::SetUp();
  }
  void TearDown() override {
    ServerTest::TearDown();
    logging::Init(logging::Format::kText);  // back to stderr
  }

  // The one logged line of `event`; fails the test if there is not exactly
  // one.
  std::string Line(const std::string& event) {
    const std::string marker = GetParam() == logging::Format::kText
                                   ? absl::StrCat(" event=", event, " ")
                                   : absl::StrCat("\"event\":\"", event, "\"");
    std::string found;
    int count = 0;
    const std::string text = sink_->Text();
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (absl::StrContains(absl::StrCat(line, " "), marker)) {
        found = std::string(line);
        ++count;
      }
    }
    EXPECT_EQ(count, 1) << event << " in:\n" << text;
    return found;
  }
  // A regex for the field `key` with a value matching `value` (a regex).
  std::string Field(const std::string& key, const std::string& value) {
    return GetParam() == logging::Format::kText
               ? absl::StrCat(" ", key, "=", value, "( |$)")
               : absl::StrCat("\"", key, "\":\"?", value, "\"?[,}]");
  }

  const std::shared_ptr<CapturingSink> sink_ =
      std::make_shared<CapturingSink>();
};

TEST_P(LifecycleLogTest, LogsRecoveryRetrainAndDrainWithTheirFields) {
  const std::string number = "[0-9][0-9.e+-]*";
  // The first start recovered an empty data directory.
  {
    const std::string recovering = Line("server.recovering");
    EXPECT_THAT(recovering, ContainsRegex(Field("models", "0")));
    EXPECT_THAT(recovering,
                ContainsRegex(Field("address", absl::StrCat("127\\.0\\.0\\.1:",
                                                            server_->port()))));
    EXPECT_THAT(Line("server.recovered"),
                ContainsRegex(Field("seconds", number)));
  }

  // A retrain that swaps.
  Create("m", v1::TASK_REGRESSION, 3);
  std::string csv;
  for (const v1::Example& e : LinearExamples(200, 5)) {
    absl::StrAppend(&csv, e.label());
    for (float v : e.features().dense()) absl::StrAppend(&csv, ",", v);
    csv += "\n";
  }
  v1::DatasetInfo dataset;
  {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    auto writer = stub_->UploadDataset(&context, &dataset);
    v1::UploadDatasetRequest chunk;
    chunk.set_total_bytes(csv.size());
    chunk.set_data(csv);
    ASSERT_TRUE(writer->Write(chunk));
    writer->WritesDone();
    const grpc::Status status = writer->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  v1::RetrainJob job;
  {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::RetrainRequest request;
    request.set_model("m");
    request.set_dataset_id(dataset.id());
    request.set_algorithm("least_squares");
    const grpc::Status status = stub_->Retrain(&context, request, &job);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::GetRetrainJobRequest request;
    request.set_id(job.id());
    auto reader = stub_->WatchRetrainJob(&context, request);
    for (v1::RetrainJob next; reader->Read(&next);) job = next;
    ASSERT_TRUE(reader->Finish().ok());
  }
  ASSERT_EQ(job.state(), v1::RETRAIN_SUCCEEDED) << job.error();
  ASSERT_TRUE(job.swapped());
  const std::string running = Line("retrain.running");
  EXPECT_THAT(running, ContainsRegex(Field("model", "m")));
  EXPECT_THAT(running, ContainsRegex(Field("job", job.id())));
  const std::string swap = Line("retrain.swap");
  EXPECT_THAT(swap, ContainsRegex(Field("model", "m")));
  EXPECT_THAT(swap, ContainsRegex(Field("job", job.id())));
  EXPECT_THAT(
      swap, ContainsRegex(Field("version", absl::StrCat(job.swap_version()))));
  const std::string finish = Line("retrain.finish");
  EXPECT_THAT(finish, ContainsRegex(Field("job", job.id())));
  EXPECT_THAT(finish, ContainsRegex(Field("state", "RETRAIN_SUCCEEDED")));
  EXPECT_THAT(finish, ContainsRegex(Field("seconds", number)));
  const std::string text = sink_->Text();
  EXPECT_LT(text.find(running), text.find(swap));
  EXPECT_LT(text.find(swap), text.find(finish));

  // A restart recovers the model: the second recovery's events count it.
  sink_->Clear();
  Restart();
  EXPECT_THAT(Line("server.recovering"), ContainsRegex(Field("models", "1")));
  const std::string recovered = Line("server.recovered");
  EXPECT_THAT(recovered, ContainsRegex(Field("models", "1")));
  EXPECT_THAT(recovered, ContainsRegex(Field("seconds", number)));

  server_->Drain(absl::Milliseconds(50));
  EXPECT_THAT(Line("server.draining"), ContainsRegex(Field("seconds", "0.05")));
}

INSTANTIATE_TEST_SUITE_P(Formats, LifecycleLogTest,
                         ::testing::Values(logging::Format::kText,
                                           logging::Format::kJson),
                         [](const auto& info) {
                           return info.param == logging::Format::kText ? "Text"
                                                                       : "Json";
                         });

}  // namespace
}  // namespace streamfit::testing
