// A model's lineage: the metrics arithmetic of server/model_lineage.*, its
// place in the manifest, and end to end through the service: creation, a
// retrain swap, Restores (by name and uploaded), and a restart.
#include "server/model_lineage.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/storage/file_util.h"
#include "server/manifest.h"
#include "server/proto_convert.h"
#include "tests/server/server_fixture.h"

namespace streamfit::testing {
namespace {

MetricsSummary Summary(uint64_t samples, double loss, double accuracy) {
  MetricsSummary m;
  m.samples_seen = samples;
  m.progressive_loss = loss;
  m.progressive_accuracy = accuracy;
  m.progressive_mae = loss / 2;
  m.progressive_mse = loss;
  m.recent_window = std::min<uint64_t>(samples, 1000);
  m.recent_loss = loss;
  m.recent_accuracy = accuracy;
  return m;
}

TEST(ModelLineageTest, MetricsSinceTheLastEventAndOverTheLifeAddUp) {
  Lineage lineage = CreatedLineage(1);
  // 100 samples at loss 2 under the created state.
  const MetricsSummary before_restore = Summary(100, 2, 0.5);
  EXPECT_EQ(MetricsSinceLineage(lineage, before_restore).samples_seen(), 100u);
  // A Restore of a snapshot that had seen 40 samples at loss 1.
  lineage = AppendLineage(
      lineage, RestoredEvent({"saved", "m"}, 40, Summary(40, 1, 0.75), 100, 2),
      before_restore);
  ASSERT_EQ(lineage.size(), 2u);
  EXPECT_EQ(lineage[1].event(), v1::LINEAGE_RESTORED);
  EXPECT_EQ(lineage[1].lifetime_metrics().samples_seen(), 100u);
  // Then 60 samples at loss 4: the restored state's metrics cover 100.
  const MetricsSummary now = Summary(100, (40 * 1.0 + 60 * 4.0) / 100, 0.6);
  const v1::ModelMetrics since = MetricsSinceLineage(lineage, now);
  EXPECT_EQ(since.samples_seen(), 60u);
  EXPECT_NEAR(since.progressive_loss(), 4, 1e-12);
  // 60 of 100 right, 30 of the first 40: 30 of the last 60.
  EXPECT_NEAR(since.progressive_accuracy(), 0.5, 1e-12);
  // Fewer samples since the event than the window: recent is all of them.
  EXPECT_EQ(since.recent_window(), 60u);
  EXPECT_NEAR(since.recent_loss(), 4, 1e-12);
  const v1::ModelMetrics life = LifetimeMetrics(lineage, now);
  EXPECT_EQ(life.samples_seen(), 160u);
  EXPECT_NEAR(life.progressive_loss(), (100 * 2.0 + 60 * 4.0) / 160, 1e-12);
}

TEST(ModelLineageTest, AModelWithoutLineageCountsFromZero) {
  const MetricsSummary now = Summary(10, 3, 0.5);
  EXPECT_EQ(MetricsSinceLineage({}, now).samples_seen(), 10u);
  EXPECT_EQ(LifetimeMetrics({}, now).samples_seen(), 10u);
  EXPECT_NEAR(LifetimeMetrics({}, now).progressive_loss(), 3, 1e-12);
}

TEST(ModelLineageTest, KeepsTheNewestEvents) {
  Lineage lineage = CreatedLineage(1);
  for (int i = 1; i <= 20; ++i) {
    SwapRecord swap{absl::StrCat("job-", i), "lbfgs", "ds", 0, {}, {}};
    lineage = AppendLineage(lineage, RetrainedEvent(swap, i), {});
  }
  ASSERT_EQ(lineage.size(), kMaxLineageEvents);
  EXPECT_EQ(lineage.front().job_id(), "job-5");
  EXPECT_EQ(lineage.back().job_id(), "job-20");
}

TEST(ManifestLineageTest, LineageRoundTripsAndOlderManifestsLoad) {
  const std::string path = ::testing::TempDir() + "/lineage_manifest";
  Manifest manifest;
  ModelConfig config;
  config.task = Task::kRegression;
  config.num_features = 3;
  Lineage lineage = AppendLineage(CreatedLineage(5),
                                  RestoredEvent({"s", "m"}, 7, {}, 9, 6), {});
  manifest.models["m"] = {1, config, lineage};
  manifest.models["plain"] = {2, config, {}};
  manifest.next_incarnation = 3;
  ASSERT_TRUE(manifest.Save(path).ok());
  absl::StatusOr<Manifest> loaded = Manifest::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->models["m"].lineage.size(), 2u);
  EXPECT_EQ(loaded->models["m"].lineage[1].SerializeAsString(),
            lineage[1].SerializeAsString());
  EXPECT_TRUE(loaded->models["plain"].lineage.empty());

  // A manifest written before lineage was kept: no lineage field.
  const std::string old_payload = absl::StrCat(
      "next 2\nmodel old 1 ",
      absl::Base64Escape(ToProto(config).SerializeAsString()), "\n");
  ASSERT_TRUE(
      WriteFileAtomically(path, EncodeFramed("SFMANI1\n", old_payload)).ok());
  loaded = Manifest::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->models.contains("old"));
  EXPECT_TRUE(loaded->models["old"].lineage.empty());
  EXPECT_EQ(loaded->models["old"].config.num_features, 3u);
}

constexpr auto kWait = std::chrono::seconds(60);

class LineageServiceTest : public ServerTest {
 protected:
  void ObserveRange(const std::vector<v1::Example>& examples, size_t begin,
                    size_t end) {
    std::vector<v1::ObserveRequest> messages;
    for (size_t i = begin; i < end; i += 10) {
      messages.push_back(Message("m", examples, i, std::min(end, i + 10)));
    }
    v1::ObserveResponse response;
    ASSERT_TRUE(Observe(messages, &response).ok());
  }

  v1::ModelInfo Get() {
    v1::GetModelRequest request;
    request.set_name("m");
    v1::ModelInfo info;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->GetModel(&context, request, &info).ok());
    return info;
  }

  // Uploads `n` rows of LinearExamples as CSV; returns the dataset id.
  std::string Upload(int n) {
    std::string csv;
    for (const v1::Example& e : LinearExamples(n, 7)) {
      absl::StrAppend(&csv, e.label());
      for (float v : e.features().dense()) absl::StrAppend(&csv, ",", v);
      csv += "\n";
    }
    v1::UploadDatasetRequest request;
    request.set_data(csv);
    v1::DatasetInfo info;
    grpc::ClientContext context;
    auto writer = stub_->UploadDataset(&context, &info);
    writer->Write(request);
    writer->WritesDone();
    const grpc::Status status = writer->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return info.id();
  }

  // Runs a least-squares retrain of "m" on `dataset` to its end.
  v1::RetrainJob RetrainToEnd(const std::string& dataset) {
    v1::RetrainRequest request;
    request.set_model("m");
    request.set_dataset_id(dataset);
    request.set_algorithm("least_squares");
    v1::RetrainJob job;
    {
      grpc::ClientContext context;
      const grpc::Status status = stub_->Retrain(&context, request, &job);
      EXPECT_TRUE(status.ok()) << status.error_message();
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kWait);
    v1::GetRetrainJobRequest watch;
    watch.set_id(job.id());
    auto reader = stub_->WatchRetrainJob(&context, watch);
    v1::RetrainJob update;
    while (reader->Read(&update)) job = update;
    EXPECT_TRUE(reader->Finish().ok());
    return job;
  }

  grpc::Status Restore(v1::RestoreRequest request, v1::ModelInfo* info) {
    request.set_model("m");
    grpc::ClientContext context;
    return stub_->Restore(&context, request, info);
  }
};

TEST_F(LineageServiceTest, RecordsCreateRetrainAndRestoresAcrossARestart) {
  Create("m", v1::TASK_REGRESSION, 3);
  const auto examples = LinearExamples(300, 3);
  ObserveRange(examples, 0, 100);
  v1::ModelInfo info = Get();
  ASSERT_EQ(info.lineage_size(), 1);
  EXPECT_EQ(info.lineage(0).event(), v1::LINEAGE_CREATED);
  EXPECT_GT(info.lineage(0).unix_ms(), 0);
  EXPECT_EQ(info.metrics_since_lineage().samples_seen(), 100u);
  EXPECT_EQ(info.lifetime_metrics().samples_seen(), 100u);
  const double loss_at_100 = info.metrics().progressive_loss();
  {
    v1::SnapshotRequest request;
    request.set_model("m");
    request.set_to_file("at100");
    v1::ModelSnapshot snapshot;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Snapshot(&context, request, &snapshot).ok());
  }

  const std::string dataset = Upload(500);
  const v1::RetrainJob job = RetrainToEnd(dataset);
  ASSERT_EQ(job.state(), v1::RETRAIN_SUCCEEDED) << job.error();
  ASSERT_TRUE(job.swapped());
  info = Get();
  ASSERT_EQ(info.lineage_size(), 2);
  const v1::ModelLineage& swap = info.lineage(1);
  EXPECT_EQ(swap.event(), v1::LINEAGE_RETRAINED);
  EXPECT_EQ(swap.job_id(), job.id());
  EXPECT_EQ(swap.algorithm(), "least_squares");
  EXPECT_EQ(swap.dataset_id(), dataset);
  EXPECT_EQ(swap.model_version(), 100u);
  EXPECT_EQ(swap.model_version(), job.swap_version());
  EXPECT_EQ(info.metrics_since_lineage().samples_seen(), 0u);
  EXPECT_EQ(info.lifetime_metrics().samples_seen(), 100u);
  EXPECT_NEAR(info.lifetime_metrics().progressive_loss(), loss_at_100,
              1e-9 * loss_at_100);

  ObserveRange(examples, 100, 150);
  info = Get();
  EXPECT_EQ(info.metrics_since_lineage().samples_seen(), 50u);
  EXPECT_EQ(info.lifetime_metrics().samples_seen(), 150u);
  // The fit predicts these far better than the model after 100 samples did.
  EXPECT_LT(info.metrics_since_lineage().progressive_loss(), loss_at_100);
  const double loss_since_swap =
      info.metrics_since_lineage().progressive_loss();
  EXPECT_NEAR(info.lifetime_metrics().progressive_loss(),
              (100 * loss_at_100 + 50 * loss_since_swap) / 150, 1e-9);

  v1::RestoreRequest by_name;
  by_name.set_snapshot_name("at100");
  ASSERT_TRUE(Restore(by_name, &info).ok());
  ASSERT_EQ(info.lineage_size(), 3);
  const v1::ModelLineage& restored = info.lineage(2);
  EXPECT_EQ(restored.event(), v1::LINEAGE_RESTORED);
  EXPECT_EQ(restored.snapshot_name(), "at100");
  EXPECT_EQ(restored.snapshot_model(), "m");
  EXPECT_EQ(restored.model_version(), 100u);
  EXPECT_EQ(restored.previous_version(), 150u);
  EXPECT_EQ(info.model_version(), 100u);
  EXPECT_EQ(info.metrics_since_lineage().samples_seen(), 0u);
  EXPECT_EQ(info.lifetime_metrics().samples_seen(), 150u);
  ObserveRange(examples, 150, 170);

  const v1::ModelInfo before = Get();
  EXPECT_EQ(before.lifetime_metrics().samples_seen(), 170u);
  Restart();
  const v1::ModelInfo after = Get();
  ASSERT_EQ(after.lineage_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(after.lineage(i).SerializeAsString(),
              before.lineage(i).SerializeAsString());
  }
  EXPECT_EQ(after.metrics_since_lineage().SerializeAsString(),
            before.metrics_since_lineage().SerializeAsString());
  EXPECT_EQ(after.lifetime_metrics().SerializeAsString(),
            before.lifetime_metrics().SerializeAsString());

  // A snapshot sent in the request: no saved name.
  v1::SnapshotRequest snap;
  snap.set_model("m");
  v1::RestoreRequest uploaded;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        stub_->Snapshot(&context, snap, uploaded.mutable_snapshot()).ok());
  }
  ASSERT_TRUE(Restore(uploaded, &info).ok());
  ASSERT_EQ(info.lineage_size(), 4);
  EXPECT_EQ(info.lineage(3).event(), v1::LINEAGE_RESTORED);
  EXPECT_EQ(info.lineage(3).snapshot_name(), "");
  EXPECT_EQ(info.lineage(3).snapshot_model(), "m");
  EXPECT_EQ(info.lifetime_metrics().samples_seen(), 170u);
}

TEST_F(LineageServiceTest, ARestoreRightAfterAcksCountsEveryAckedSample) {
  Create("m", v1::TASK_REGRESSION, 3);
  v1::RestoreRequest request;
  {
    v1::SnapshotRequest snap;
    snap.set_model("m");
    grpc::ClientContext context;
    ASSERT_TRUE(
        stub_->Snapshot(&context, snap, request.mutable_snapshot()).ok());
  }
  // Acked means durable and queued, not yet applied: the Restore that
  // follows at once must still count every acked sample in the lifetime.
  const auto examples = LinearExamples(4000, 5);
  grpc::ClientContext context;
  auto stream = stub_->ObserveStream(&context);
  for (size_t i = 0; i < examples.size(); i += 1000) {
    ASSERT_TRUE(stream->Write(Message("m", examples, i, i + 1000)));
  }
  v1::ObserveAck ack;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(stream->Read(&ack));
  ASSERT_EQ(ack.model_version(), 4000u);
  v1::ModelInfo info;
  ASSERT_TRUE(Restore(request, &info).ok());
  EXPECT_EQ(info.lineage(1).previous_version(), 4000u);
  EXPECT_EQ(info.lifetime_metrics().samples_seen(), 4000u);
  stream->WritesDone();
  stream->Finish();  // OK or ABORTED: the model it fed was replaced
}

TEST_F(LineageServiceTest, ASwapOnAModelWithoutSamplesIsInItsLineage) {
  Create("m", v1::TASK_REGRESSION, 3);
  const v1::RetrainJob job = RetrainToEnd(Upload(200));
  ASSERT_EQ(job.state(), v1::RETRAIN_SUCCEEDED) << job.error();
  v1::ListModelsResponse list;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->ListModels(&context, v1::ListModelsRequest(), &list).ok());
  ASSERT_EQ(list.models_size(), 1);
  const v1::ModelInfo& info = list.models(0);
  EXPECT_EQ(info.model_version(), 0u);  // a swap applies no sample
  ASSERT_EQ(info.lineage_size(), 2);
  EXPECT_EQ(info.lineage(1).event(), v1::LINEAGE_RETRAINED);
  EXPECT_EQ(info.lineage(1).job_id(), job.id());
  Restart();
  EXPECT_EQ(Get().lineage(1).job_id(), job.id());
}

}  // namespace
}  // namespace streamfit::testing
