// WatchModel over the real server: a drift, a retrain's start, swap and end,
// a Restore and the model's deletion reach a watcher in order.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/server/server_fixture.h"

namespace streamfit::testing {
namespace {

class WatchModelTest : public ServerTest {
 protected:
  // Opens a watch of `model` and waits until it is in place.
  void Watch(const std::string& model) {
    context_.set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(60));
    v1::WatchModelRequest request;
    request.set_model(model);
    watch_ = stub_->WatchModel(&context_, request);
    watch_->WaitForInitialMetadata();
  }

  // The next event of `kind`, skipping others; fails if the stream ends.
  v1::ModelEvent Next(v1::ModelEvent::Kind kind) {
    v1::ModelEvent event;
    while (watch_->Read(&event)) {
      if (event.kind() == kind) return event;
      skipped_.push_back(event.kind());
    }
    ADD_FAILURE() << "the watch ended before "
                  << v1::ModelEvent::Kind_Name(kind) << ": "
                  << watch_->Finish().error_message();
    return event;
  }

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::ModelEvent>> watch_;
  std::vector<v1::ModelEvent::Kind> skipped_;
};

TEST_F(WatchModelTest, AWatcherSeesDriftRetrainRestoreAndDeletionInOrder) {
  Create("m", v1::TASK_REGRESSION, 3);
  Watch("m");

  // An abrupt change of the true weights.
  const std::vector<v1::Example> examples = LinearExamples(4000, 11);
  ObserveLabeled(examples, 0, 2000, false);
  ObserveLabeled(examples, 2000, examples.size(), true);
  const v1::ModelEvent drift = Next(v1::ModelEvent::DRIFT_DETECTED);
  EXPECT_EQ(drift.model(), "m");
  EXPECT_GE(drift.drifts(), 1u);
  EXPECT_GT(drift.model_version(), 2000u);
  EXPECT_LE(drift.model_version(), 4000u);
  EXPECT_GT(drift.unix_ms(), 0);

  // A retrain: started, swapped, finished.
  std::string csv;
  for (int i = 0; i < 200; ++i) {
    const v1::Example& e = examples[i];
    absl::StrAppend(&csv, e.label(), ",", e.features().dense(0), ",",
                    e.features().dense(1), ",", e.features().dense(2), "\n");
  }
  v1::DatasetInfo dataset;
  {
    grpc::ClientContext context;
    auto writer = stub_->UploadDataset(&context, &dataset);
    v1::UploadDatasetRequest chunk;
    chunk.set_data(csv);
    ASSERT_TRUE(writer->Write(chunk));
    writer->WritesDone();
    ASSERT_TRUE(writer->Finish().ok());
  }
  v1::RetrainRequest retrain;
  retrain.set_model("m");
  retrain.set_dataset_id(dataset.id());
  retrain.set_algorithm("least_squares");
  v1::RetrainJob job;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Retrain(&context, retrain, &job).ok());
  }
  EXPECT_EQ(Next(v1::ModelEvent::RETRAIN_STARTED).retrain_job().id(), job.id());
  const v1::ModelEvent swapped = Next(v1::ModelEvent::RETRAIN_SWAPPED);
  EXPECT_EQ(swapped.model_version(), 4000u);
  const v1::ModelEvent finished = Next(v1::ModelEvent::RETRAIN_FINISHED);
  EXPECT_EQ(finished.retrain_job().state(), v1::RETRAIN_SUCCEEDED);
  EXPECT_EQ(finished.retrain_job().swap_version(), 4000u);

  // A Restore to an earlier snapshot.
  ObserveLabeled(examples, 0, 100, false);
  v1::ModelSnapshot snapshot;
  ASSERT_TRUE(SnapshotModel(*stub_, "m", &snapshot).ok());
  ObserveLabeled(examples, 0, 100, false);
  {
    v1::RestoreRequest restore;
    restore.set_model("m");
    *restore.mutable_snapshot() = snapshot;
    v1::ModelInfo info;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Restore(&context, restore, &info).ok());
  }
  EXPECT_EQ(Next(v1::ModelEvent::RESTORED).model_version(),
            snapshot.model_version());

  // Deleting the model ends the watch.
  {
    v1::DeleteModelRequest request;
    request.set_name("m");
    v1::DeleteModelResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->DeleteModel(&context, request, &response).ok());
  }
  v1::ModelEvent more;
  while (watch_->Read(&more)) skipped_.push_back(more.kind());
  EXPECT_EQ(watch_->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
  // Only drift reports came between the events waited for.
  for (v1::ModelEvent::Kind kind : skipped_) {
    EXPECT_EQ(kind, v1::ModelEvent::DRIFT_DETECTED);
  }
}

TEST_F(WatchModelTest, AnUnknownModelIsNotFound) {
  Watch("nope");
  v1::ModelEvent event;
  EXPECT_FALSE(watch_->Read(&event));
  EXPECT_EQ(watch_->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace streamfit::testing
