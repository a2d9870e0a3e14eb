// Durability at the service level: models survive a clean restart (manifest,
// final checkpoint), Restore rolls a model back durably and it continues
// bit-identically, Snapshot.to_file writes a checkpoint file on the server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "core/storage/file_util.h"
#include "server/snapshot_codec.h"
#include "tests/server/server_fixture.h"

namespace streamfit::testing {
namespace {

using ::testing::HasSubstr;

class DurabilityTest : public ServerTest {
 protected:
  void ObserveAll(const std::string& model,
                  const std::vector<v1::Example>& examples, size_t begin,
                  size_t end) {
    v1::ObserveResponse response;
    std::vector<v1::ObserveRequest> messages;
    for (size_t i = begin; i < end; i += 10) {
      messages.push_back(Message(model, examples, i, std::min(end, i + 10)));
    }
    ASSERT_TRUE(Observe(messages, &response).ok());
  }

  v1::ModelSnapshot Snap(const std::string& model,
                         const std::string& to_file = "",
                         grpc::Status* status = nullptr) {
    v1::ModelSnapshot snapshot;
    const grpc::Status s = SnapshotModel(*stub_, model, &snapshot, to_file);
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return snapshot;
  }

  static std::string State(const v1::ModelSnapshot& s) {
    std::string out;
    for (const auto& t : s.state()) out += t.SerializeAsString();
    return out;
  }
};

TEST_F(DurabilityTest, ModelsSurviveACleanRestartExactly) {
  Create("kept", v1::TASK_REGRESSION, 3);
  Create("gone", v1::TASK_REGRESSION, 3);
  const auto examples = LinearExamples(500, 1);
  ObserveAll("kept", examples, 0, 500);
  const v1::ModelSnapshot before = Snap("kept");
  {
    v1::DeleteModelRequest request;
    request.set_name("gone");
    v1::DeleteModelResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->DeleteModel(&context, request, &response).ok());
  }
  Restart();
  const v1::ModelSnapshot after = Snap("kept");
  EXPECT_EQ(after.model_version(), before.model_version());
  EXPECT_EQ(after.model_version(), 500u);
  EXPECT_EQ(State(after), State(before));
  v1::ModelInfo info;
  grpc::ClientContext context;
  v1::GetModelRequest get;
  get.set_name("gone");
  EXPECT_EQ(stub_->GetModel(&context, get, &info).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(DurabilityTest, RestoreRollsBackDurablyAndContinuesBitIdentically) {
  Create("m", v1::TASK_REGRESSION, 3);
  const auto examples = LinearExamples(400, 2);
  ObserveAll("m", examples, 0, 200);
  const v1::ModelSnapshot at200 = Snap("m");
  ObserveAll("m", examples, 200, 400);
  const v1::ModelSnapshot at400 = Snap("m");

  v1::ModelInfo info;
  ASSERT_TRUE(RestoreModel(*stub_, "m", at200, &info).ok());
  EXPECT_EQ(info.model_version(), 200u);
  Restart();  // the rollback is durable
  EXPECT_EQ(State(Snap("m")), State(at200));
  ObserveAll("m", examples, 200, 400);
  const v1::ModelSnapshot again = Snap("m");
  EXPECT_EQ(again.model_version(), 400u);
  EXPECT_EQ(State(again), State(at400));
}

TEST_F(DurabilityTest, RestoreRefusesUnknownModelsAndBadSnapshots) {
  Create("m", v1::TASK_REGRESSION, 3);
  const v1::ModelSnapshot snapshot = Snap("m");
  v1::ModelInfo info;
  EXPECT_EQ(RestoreModel(*stub_, "nope", snapshot, &info).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::ModelSnapshot bad = snapshot;  // without its weights
  ASSERT_EQ(bad.state(0).name(), "weights");
  bad.mutable_state()->DeleteSubrange(0, 1);
  const grpc::Status status = RestoreModel(*stub_, "m", bad, &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("snapshot"));
}

TEST_F(DurabilityTest, SnapshotToFileWritesACheckpointFileOnTheServer) {
  Create("m", v1::TASK_REGRESSION, 3);
  ObserveAll("m", LinearExamples(50, 3), 0, 50);
  const v1::ModelSnapshot snapshot = Snap("m", "m-50.snap");
  const auto data =
      ReadWholeFile((data_dir_ / "snapshots" / "m-50.snap").string());
  ASSERT_TRUE(data.ok()) << data.status();
  const auto decoded = DecodeSnapshotFile(*data);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->model_version(), 50u);
  EXPECT_EQ(State(*decoded), State(snapshot));
  for (const char* bad : {"../escape", "a/b", ".hidden"}) {
    grpc::Status status;
    Snap("m", bad, &status);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
  }
}

}  // namespace
}  // namespace streamfit::testing
