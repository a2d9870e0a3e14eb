// Kafka mode in process: two servers against librdkafka's mock cluster (the
// real Kafka protocol on loopback), so that the sanitizers see the producer,
// reader and learner threads at work. tests/kafka holds the multi-process
// tests (kill -9, brokers down, records from other producers).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <string>
#include <thread>
#include <vector>

#include "core/storage/checkpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/proto_convert.h"
#include "server/snapshot_codec.h"
#include "tests/server/server_fixture.h"

namespace streamfit {
namespace {

using ::streamfit::testing::LinearExamples;
using ::streamfit::testing::Message;

constexpr int kRecordSamples = 10;

class KafkaReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", error, sizeof error);
    cluster_handle_ =
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    ASSERT_NE(cluster_handle_, nullptr) << error;
    cluster_ = rd_kafka_mock_cluster_new(cluster_handle_, 1);
    ASSERT_NE(cluster_, nullptr);
    rd_kafka_mock_topic_create(cluster_, "sf._models", 1, 1);
    rd_kafka_mock_topic_create(cluster_, "sf.m", 1, 1);
    base_dir_ =
        std::filesystem::path(::testing::TempDir()) /
        ("streamfit_kafka_" + std::to_string(::getpid()) + "_" +
         ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    servers_.clear();  // each shuts down before the cluster goes
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
    if (cluster_handle_ != nullptr) rd_kafka_destroy(cluster_handle_);
    std::filesystem::remove_all(base_dir_);
  }

  std::string DataDir(int replica) const {
    return (base_dir_ / std::to_string(replica)).string();
  }

  // Starts (or restarts) replica `replica` on its own data directory.
  void StartReplica(int replica) {
    StreamfitServer::Options options;
    options.address = "127.0.0.1:0";
    options.data_dir = DataDir(replica);
    options.kafka.brokers = rd_kafka_mock_cluster_bootstraps(cluster_);
    options.kafka.topic_prefix = "sf.";
    // The mock cluster does not answer a fetch early when a record arrives.
    options.kafka.settings = {{"fetch.wait.max.ms", "10"}};
    // States published, and checkpointed, inside records.
    options.learner.publish_every = 3;
    options.storage.checkpoint_every_samples = 1;
    options.storage.checkpoint_interval = absl::Milliseconds(1);
    auto server = StreamfitServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    if (servers_.size() <= static_cast<size_t>(replica)) {
      servers_.resize(replica + 1);
      stubs_.resize(replica + 1);
    }
    servers_[replica] = *std::move(server);
    stubs_[replica] = v1::Learner::NewStub(grpc::CreateChannel(
        servers_[replica]->address(), grpc::InsecureChannelCredentials()));
  }

  void StopReplica(int replica) {
    servers_[replica]->Shutdown(absl::Seconds(2));
    servers_[replica].reset();
  }

  // Waits (boundedly) until replica `replica` serves model m at `version`.
  void WaitForVersion(int replica, uint64_t version) {
    for (int i = 0; i < 3000; ++i) {
      auto model = servers_[replica]->registry().Get("m");
      if (model.ok() && (*model)->learner.Current()->version() >= version) {
        return;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    FAIL() << "replica " << replica << " never reached version " << version;
  }

  std::string SnapshotBytes(int replica) {
    v1::ModelSnapshot snapshot;
    const grpc::Status status =
        testing::SnapshotModel(*stubs_[replica], "m", &snapshot);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return snapshot.SerializeAsString();
  }

  grpc::Status Observe(int replica, const std::vector<v1::Example>& examples,
                       size_t record, v1::ObserveResponse* response) {
    grpc::ClientContext context;
    auto writer = stubs_[replica]->Observe(&context, response);
    writer->Write(Message("m", examples, record * kRecordSamples,
                          (record + 1) * kRecordSamples));
    writer->WritesDone();
    return writer->Finish();
  }

  void CreateModel(int replica) {
    v1::CreateModelRequest request;
    request.set_name("m");
    request.mutable_config()->set_task(v1::TASK_REGRESSION);
    request.mutable_config()->set_num_features(3);
    v1::ModelInfo info;
    grpc::ClientContext context;
    const grpc::Status status =
        stubs_[replica]->CreateModel(&context, request, &info);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  rd_kafka_t* cluster_handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::filesystem::path base_dir_;
  std::vector<std::unique_ptr<StreamfitServer>> servers_;
  std::vector<std::unique_ptr<v1::Learner::Stub>> stubs_;
};

TEST_F(KafkaReplicaTest, ConcurrentProducersOnTwoReplicasMakeOneModel) {
  StartReplica(0);
  StartReplica(1);
  CreateModel(0);
  const std::vector<v1::Example> examples =
      LinearExamples(40 * kRecordSamples, 7);
  std::vector<std::thread> producers;
  for (int p = 0; p < 4; ++p) {
    producers.emplace_back([&, p] {
      for (size_t record = p; record < 40; record += 4) {
        v1::ObserveResponse response;
        // The model may not have reached replica 1's catalogue yet.
        grpc::Status status;
        for (int attempt = 0; attempt < 500; ++attempt) {
          status = Observe(p % 2, examples, record, &response);
          if (status.error_code() != grpc::StatusCode::NOT_FOUND) break;
          absl::SleepFor(absl::Milliseconds(10));
        }
        EXPECT_TRUE(status.ok()) << status.error_message();
        EXPECT_EQ(response.accepted(), kRecordSamples);
      }
    });
  }
  for (std::thread& t : producers) t.join();
  WaitForVersion(0, 400);
  WaitForVersion(1, 400);
  EXPECT_EQ(SnapshotBytes(0), SnapshotBytes(1));
}

// A checkpoint taken inside a record names that record and the samples of
// it already learned; a restart from it skips them and ends where a replica
// that read everything once ends.
TEST_F(KafkaReplicaTest, RestartFromACheckpointInsideARecordContinuesExactly) {
  StartReplica(0);
  CreateModel(0);
  const std::vector<v1::Example> examples =
      LinearExamples(30 * kRecordSamples, 11);
  for (size_t record = 0; record < 20; ++record) {
    v1::ObserveResponse response;
    ASSERT_TRUE(Observe(0, examples, record, &response).ok());
    ASSERT_EQ(response.model_version(), (record + 1) * kRecordSamples);
  }
  // Replica 1 starts from a checkpoint at version 125: five samples into
  // the record at offset 12, which starts at version 120. It is built
  // offline from the first 125 samples.
  StartReplica(1);
  StopReplica(1);
  const std::string dir = DataDir(1) + "/kafka/m.1";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    v1::ModelSnapshot created;
    ASSERT_TRUE(testing::SnapshotModel(*stubs_[0], "m", &created).ok());
    absl::StatusOr<LinearModel> model =
        LinearModel::Create(FromProto(created.config()));
    ASSERT_TRUE(model.ok()) << model.status();
    ModelTrainer trainer(*std::move(model));
    v1::ObserveRequest first = Message("m", examples, 0, 125);
    absl::StatusOr<ExampleBatch> batch =
        ToExampleBatch(first, trainer.config());
    ASSERT_TRUE(batch.ok()) << batch.status();
    trainer.LearnBatch(*batch);
    v1::ModelSnapshot snapshot;
    ToSnapshot("m", trainer.model(), &snapshot);
    snapshot.set_kafka_offset(12);
    snapshot.set_kafka_record_version(120);
    snapshot.set_kafka_incarnation(1);
    ASSERT_TRUE(
        CheckpointStore(dir).Write(125, snapshot.SerializeAsString()).ok());
  }
  StartReplica(1);
  for (size_t record = 20; record < 30; ++record) {
    v1::ObserveResponse response;
    ASSERT_TRUE(Observe(record % 2, examples, record, &response).ok());
  }
  WaitForVersion(0, 300);
  WaitForVersion(1, 300);
  EXPECT_EQ(SnapshotBytes(0), SnapshotBytes(1));

  // Its own checkpoints, taken inside records as it learned, resume
  // exactly too: drop the final one and restart from the one before.
  StopReplica(1);
  std::vector<uint64_t> versions = *CheckpointStore(dir).List();
  ASSERT_GE(versions.size(), 2u);
  ASSERT_TRUE(
      std::filesystem::remove(CheckpointStore(dir).PathOf(versions[0])));
  StartReplica(1);
  WaitForVersion(1, 300);
  EXPECT_EQ(SnapshotBytes(0), SnapshotBytes(1));
}

}  // namespace
}  // namespace streamfit
