// Snapshots saved on the server (Snapshot.to_file): ListSnapshots, Restore
// by snapshot_name and DeleteSnapshot, on a real server over gRPC.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "tests/server/server_fixture.h"

namespace streamfit::testing {
namespace {

using ::testing::HasSubstr;

class SavedSnapshotsTest : public ServerTest {
 protected:
  void Learn(const std::string& model, int n, uint32_t seed) {
    const std::vector<v1::Example> examples = LinearExamples(n, seed);
    v1::ObserveResponse response;
    ASSERT_TRUE(Observe({Message(model, examples, 0, n)}, &response).ok());
  }

  grpc::Status Save(const std::string& model, const std::string& name) {
    v1::ModelSnapshot snapshot;
    return SnapshotModel(*stub_, model, &snapshot, name);
  }

  v1::ListSnapshotsResponse List(const std::string& model) {
    v1::ListSnapshotsRequest request;
    request.set_model(model);
    v1::ListSnapshotsResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->ListSnapshots(&context, request, &response).ok());
    return response;
  }

  grpc::Status RestoreNamed(const std::string& model, const std::string& name,
                            v1::ModelInfo* info) {
    v1::RestoreRequest request;
    request.set_model(model);
    request.set_snapshot_name(name);
    grpc::ClientContext context;
    return stub_->Restore(&context, request, info);
  }

  grpc::Status Delete(const std::string& name) {
    v1::DeleteSnapshotRequest request;
    request.set_name(name);
    v1::DeleteSnapshotResponse response;
    grpc::ClientContext context;
    return stub_->DeleteSnapshot(&context, request, &response);
  }
};

TEST_F(SavedSnapshotsTest, ListsRestoresByNameAndDeletes) {
  Create("a", v1::TASK_REGRESSION, 3);
  Create("b", v1::TASK_REGRESSION, 3);
  Learn("a", 40, 1);
  ASSERT_TRUE(Save("a", "a-at-40").ok());
  ASSERT_TRUE(Save("b", "b-empty").ok());

  v1::ListSnapshotsResponse all = List("");
  ASSERT_EQ(all.snapshots_size(), 2);
  v1::ListSnapshotsResponse only_a = List("a");
  ASSERT_EQ(only_a.snapshots_size(), 1);
  EXPECT_EQ(only_a.snapshots(0).name(), "a-at-40");
  EXPECT_EQ(only_a.snapshots(0).model(), "a");
  EXPECT_EQ(only_a.snapshots(0).model_version(), 40u);
  EXPECT_EQ(only_a.snapshots(0).config().num_features(), 3u);
  EXPECT_GT(only_a.snapshots(0).bytes(), 0u);
  EXPECT_GT(only_a.snapshots(0).modified_unix_ms(), 0);

  Learn("a", 25, 2);
  v1::ModelInfo info;
  ASSERT_TRUE(RestoreNamed("a", "a-at-40", &info).ok());
  EXPECT_EQ(info.model_version(), 40u);

  ASSERT_TRUE(Delete("a-at-40").ok());
  EXPECT_EQ(Delete("a-at-40").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(List("a").snapshots_size(), 0);
  grpc::Status status = RestoreNamed("a", "a-at-40", &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("'a-at-40'"));
}

TEST_F(SavedSnapshotsTest, RefusesBadNamesBothSourcesAndCorruptFiles) {
  Create("a", v1::TASK_REGRESSION, 3);
  v1::ModelInfo info;
  EXPECT_EQ(RestoreNamed("a", "../MANIFEST", &info).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Delete("../MANIFEST").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  ASSERT_TRUE(Save("a", "good").ok());
  v1::RestoreRequest both;
  both.set_model("a");
  both.set_snapshot_name("good");
  both.mutable_snapshot()->set_model("a");
  grpc::ClientContext context;
  EXPECT_EQ(stub_->Restore(&context, both, &info).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  std::ofstream(data_dir_ / "snapshots" / "torn") << "not a snapshot";
  v1::ListSnapshotsResponse list = List("");
  EXPECT_EQ(list.snapshots_size(), 1);
  ASSERT_EQ(list.unreadable_size(), 1);
  EXPECT_THAT(list.unreadable(0), HasSubstr("torn: "));
  EXPECT_EQ(RestoreNamed("a", "torn", &info).error_code(),
            grpc::StatusCode::DATA_LOSS);
}

}  // namespace
}  // namespace streamfit::testing
