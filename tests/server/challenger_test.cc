// Champion and challengers over the real server: a challenger learns what a
// model of its config learns from its start, survives a restart and a crash
// (its state is checkpointed with the model's, the log replayed into both),
// and a promotion, by hand or by the model's policy, continues
// bit-identically from the model's version.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/model/model_slot.h"
#include "server/proto_convert.h"
#include "server/snapshot_codec.h"
#include "tests/server/server_fixture.h"
#include "tests/testing/model_state.h"
#include "tests/testing/status_matchers.h"

namespace streamfit::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

class ChallengerTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    examples_ = LinearExamples(5000, 7);
  }

  // A regression model "m" of 3 features with `config`'s settings.
  v1::ModelConfig Config(v1::Optimizer optimizer = v1::OPTIMIZER_UNSPECIFIED) {
    v1::ModelConfig config;
    config.set_task(v1::TASK_REGRESSION);
    config.set_num_features(3);
    config.set_optimizer(optimizer);
    return config;
  }

  grpc::Status Add(const std::string& name, const v1::ModelConfig& config,
                   v1::Challenger* added = nullptr,
                   const std::string& model = "m",
                   std::optional<uint64_t> from_version = std::nullopt) {
    v1::AddChallengerRequest request;
    request.set_model(model);
    request.set_name(name);
    *request.mutable_config() = config;
    if (from_version) request.set_from_version(*from_version);
    v1::Challenger ignored;
    grpc::ClientContext context;
    return stub_->AddChallenger(&context, request,
                                added != nullptr ? added : &ignored);
  }
  grpc::Status Promote(const std::string& name, v1::ModelInfo* info) {
    v1::PromoteChallengerRequest request;
    request.set_model("m");
    request.set_name(name);
    grpc::ClientContext context;
    return stub_->PromoteChallenger(&context, request, info);
  }
  grpc::Status Remove(const std::string& name) {
    v1::RemoveChallengerRequest request;
    request.set_model("m");
    request.set_name(name);
    v1::RemoveChallengerResponse response;
    grpc::ClientContext context;
    return stub_->RemoveChallenger(&context, request, &response);
  }
  // The challengers once the model has published `version`.
  v1::ListChallengersResponse ListAt(uint64_t version) {
    v1::PredictResponse ignored;
    EXPECT_TRUE(PredictAtVersion(*stub_, "m", version, examples_[0].features(),
                                 &ignored)
                    .ok());
    v1::ListChallengersRequest request;
    request.set_model("m");
    v1::ListChallengersResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->ListChallengers(&context, request, &response).ok());
    return response;
  }
  LinearModel SnapshotState() {
    v1::ModelSnapshot snapshot;
    EXPECT_TRUE(SnapshotModel(*stub_, "m", &snapshot).ok());
    return *FromSnapshot(snapshot);
  }
  // A model of `config` that joins at `version` (as AddChallenger makes it)
  // and learns nothing yet.
  ModelTrainer Reference(const v1::ModelConfig& config, uint64_t version) {
    const ModelConfig full = *WithDefaults(FromProto(config));
    return ModelTrainer(*LinearModel::FromState(
        full, version, LinearModel::Create(full)->ExportState()));
  }
  void LearnInto(ModelTrainer& trainer, size_t begin, size_t end) {
    const ExampleBatch batch =
        *ToExampleBatch(Message("m", examples_, begin, end), trainer.config());
    trainer.LearnBatch(batch);
  }

  std::vector<v1::Example> examples_;
};

TEST_F(ChallengerTest, LearnsBesideTheModelAndItsPromotionContinuesExactly) {
  Create("m", v1::TASK_REGRESSION, 3, 0, Config());
  ObserveLabeled(examples_, 0, 1000, false);
  v1::Challenger added;
  ASSERT_TRUE(Add("adagrad", Config(v1::OPTIMIZER_ADAGRAD), &added).ok());
  EXPECT_EQ(added.start_version(), 1000u);
  EXPECT_EQ(added.config().optimizer(), v1::OPTIMIZER_ADAGRAD);
  ModelTrainer reference = Reference(Config(v1::OPTIMIZER_ADAGRAD), 1000);
  ObserveLabeled(examples_, 1000, 2000, false);
  LearnInto(reference, 1000, 2000);
  Restart();  // the challenger is checkpointed with the model
  ObserveLabeled(examples_, 2000, 3000, false);
  LearnInto(reference, 2000, 3000);

  const v1::ListChallengersResponse listed = ListAt(3000);
  ASSERT_THAT(listed.challengers(), SizeIs(1));
  const v1::Challenger& c = listed.challengers(0);
  EXPECT_EQ(c.name(), "adagrad");
  EXPECT_EQ(c.model_version(), 3000u);
  EXPECT_EQ(c.metrics().samples_seen(), 2000u);
  EXPECT_EQ(c.metrics().progressive_loss(),
            reference.model().metrics().progressive_loss);
  // Compared from the first block end after it joined: 1024.
  EXPECT_EQ(c.comparison().compared_samples(), 3000u - 1024);
  EXPECT_EQ(c.comparison().window_samples(), (3000u - 1024) / 128 * 128);

  v1::ModelInfo promoted;
  ASSERT_TRUE(Promote("adagrad", &promoted).ok());
  EXPECT_EQ(promoted.model_version(), 3000u);
  EXPECT_EQ(promoted.config().optimizer(), v1::OPTIMIZER_ADAGRAD);
  ASSERT_GT(promoted.lineage_size(), 0);
  EXPECT_EQ(promoted.lineage().rbegin()->event(), v1::LINEAGE_PROMOTED);
  EXPECT_EQ(promoted.lineage().rbegin()->challenger(), "adagrad");
  EXPECT_FALSE(promoted.lineage().rbegin()->automatic());
  EXPECT_EQ(promoted.challengers_size(), 0);
  ExpectIdenticalState(SnapshotState(), reference.model());

  ObserveLabeled(examples_, 3000, 4000, false);
  LearnInto(reference, 3000, 4000);
  ListAt(4000);
  ExpectIdenticalState(SnapshotState(), reference.model());
  Restart();
  ExpectIdenticalState(SnapshotState(), reference.model());
}

TEST_F(ChallengerTest, ACrashRecoveryReplaysTheLogIntoTheChallengers) {
  StreamfitServer::Options options;
  options.learner = learner_options_;
  options.storage.checkpoint_every_samples = 1'000'000'000;
  options.storage.checkpoint_interval = absl::Hours(1);
  Restart(options);
  Create("m", v1::TASK_REGRESSION, 3, 0, Config());
  ObserveLabeled(examples_, 0, 500, false);
  ASSERT_TRUE(Add("ftrl", Config(v1::OPTIMIZER_FTRL)).ok());  // checkpoint
  ObserveLabeled(examples_, 500, 2500, false);
  const v1::ListChallengersResponse before = ListAt(2500);

  // What a crash leaves: the files as they are (every ack was durable, and
  // no checkpoint runs meanwhile), recovered without a shutdown checkpoint.
  const std::filesystem::path crashed = data_dir_.string() + ".crashed";
  std::filesystem::remove_all(crashed);
  std::filesystem::copy(data_dir_, crashed,
                        std::filesystem::copy_options::recursive);
  server_->Shutdown(absl::Seconds(2));
  server_.reset();
  std::filesystem::remove_all(data_dir_);
  std::filesystem::rename(crashed, data_dir_);
  StartServer(options);

  const v1::ListChallengersResponse after = ListAt(2500);
  ASSERT_THAT(after.challengers(), SizeIs(1));
  EXPECT_EQ(after.challengers(0).metrics().SerializeAsString(),
            before.challengers(0).metrics().SerializeAsString());
  EXPECT_EQ(after.challengers(0).comparison().SerializeAsString(),
            before.challengers(0).comparison().SerializeAsString());
}

TEST_F(ChallengerTest, ThePolicyPromotesABetterChallengerAsAReplayWould) {
  v1::ModelConfig slow = Config(v1::OPTIMIZER_SGD);
  slow.set_serving(v1::SERVING_LIVE);  // auto: the least-squares fit
  slow.set_schedule(v1::SCHEDULE_CONSTANT);
  slow.set_learning_rate(1e-5);
  slow.mutable_policies()->set_promote_confidence(0.999);
  slow.mutable_policies()->set_promote_window(1024);
  Create("m", v1::TASK_REGRESSION, 3, 0, slow);
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(60));
  v1::WatchModelRequest watch_request;
  watch_request.set_model("m");
  auto watch = stub_->WatchModel(&watch_context, watch_request);
  watch->WaitForInitialMetadata();
  ObserveLabeled(examples_, 0, 100, false);
  ASSERT_TRUE(Add("default", Config()).ok());
  ObserveLabeled(examples_, 100, 4000, false);

  v1::ModelEvent event;
  while (watch->Read(&event) &&
         event.kind() != v1::ModelEvent::CHALLENGER_PROMOTED) {
  }
  ASSERT_EQ(event.kind(), v1::ModelEvent::CHALLENGER_PROMOTED);
  EXPECT_EQ(event.challenger(), "default");
  EXPECT_TRUE(event.automatic());
  EXPECT_EQ(event.model_version() % ModelSlot::kBlock, 0u);
  watch_context.TryCancel();

  // The same samples through a slot in one process promote at the same
  // version and end in the same state.
  ModelSlot slot(*LinearModel::Create(*WithDefaults(FromProto(slow))));
  const ModelConfig config = slot.config();
  slot.LearnBatch(*ToExampleBatch(Message("m", examples_, 0, 100), config), 0,
                  100);
  ASSERT_THAT(slot.AddChallenger("default", FromProto(Config())), IsOk());
  std::vector<Promotion> promotions;
  slot.LearnBatch(*ToExampleBatch(Message("m", examples_, 100, 4000), config),
                  0, 3900, &promotions);
  ASSERT_THAT(promotions, SizeIs(1));
  EXPECT_EQ(promotions[0].version, event.model_version());
  ListAt(4000);
  ExpectIdenticalState(SnapshotState(), slot.model());

  v1::GetModelRequest get;
  get.set_name("m");
  v1::ModelInfo info;
  // The lineage is written by the server's policy loop once it is durable.
  for (int i = 0; i < 600; ++i) {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->GetModel(&context, get, &info).ok());
    if (info.lineage().rbegin()->event() == v1::LINEAGE_PROMOTED) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(info.lineage().rbegin()->event(), v1::LINEAGE_PROMOTED);
  EXPECT_TRUE(info.lineage().rbegin()->automatic());
  EXPECT_EQ(info.lineage().rbegin()->model_version(), event.model_version());
  EXPECT_EQ(info.config().optimizer(), v1::OPTIMIZER_NORMALIZED);
  EXPECT_EQ(info.config().policies().promote_confidence(), 0.999);
  Restart();
  ExpectIdenticalState(SnapshotState(), slot.model());
}

TEST_F(ChallengerTest, BadRequestsChangeNothingAndRemovalIsDurable) {
  Create("m", v1::TASK_REGRESSION, 3, 0, Config());
  EXPECT_EQ(Add("c", Config(), nullptr, "nope").error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Add("bad/name", Config()).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::ModelConfig wide = Config();
  wide.set_num_features(4);
  const grpc::Status shape = Add("wide", wide);
  EXPECT_EQ(shape.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(shape.error_message(), HasSubstr("num_features"));
  v1::ModelConfig negative = Config();
  negative.set_learning_rate(-1);
  EXPECT_EQ(Add("negative", negative).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(Add("c", Config(v1::OPTIMIZER_ADAM)).ok());
  EXPECT_EQ(Add("c", Config()).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  v1::ModelInfo info;
  EXPECT_EQ(Promote("other", &info).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(ListAt(0).challengers(), SizeIs(1));

  const grpc::Status removed = Remove("c");
  ASSERT_TRUE(removed.ok()) << removed.error_message();
  EXPECT_EQ(Remove("c").error_code(), grpc::StatusCode::NOT_FOUND);
  Restart();
  EXPECT_THAT(ListAt(0).challengers(), SizeIs(0));
}

TEST_F(ChallengerTest, StartsAtAnEarlierVersionAsIfItHadJoinedThen) {
  StreamfitServer::Options options;
  options.learner = learner_options_;
  options.storage.checkpoint_every_samples = 1'000'000'000;  // on changes only
  options.storage.checkpoint_interval = absl::Hours(1);
  options.storage.keep_checkpoints = 3;
  Restart(options);
  Create("m", v1::TASK_REGRESSION, 3, 0, Config());  // checkpoint 0
  ObserveLabeled(examples_, 0, 1000, false);
  ASSERT_TRUE(Add("live", Config(v1::OPTIMIZER_ADAGRAD)).ok());  // 1000
  ObserveLabeled(examples_, 1000, 5000, false);
  // Far enough ahead that the log is replayed off the learner thread first.
  for (int i = 0; i < 3; ++i) ObserveLabeled(examples_, 0, 5000, false);
  ListAt(20000);
  v1::Challenger past;
  const grpc::Status added = Add("past", Config(v1::OPTIMIZER_ADAGRAD), &past,
                                 "m", /*from_version=*/1000);
  ASSERT_TRUE(added.ok()) << added.error_message();
  EXPECT_EQ(past.start_version(), 1000u);
  EXPECT_EQ(past.model_version(), 20000u);
  EXPECT_EQ(past.metrics().samples_seen(), 19000u);
  ObserveLabeled(examples_, 0, 1000, false);
  Restart(options);

  // It learned and compared every sample since 1000, as "live" did.
  const v1::ListChallengersResponse listed = ListAt(21000);
  ASSERT_THAT(listed.challengers(), SizeIs(2));
  const v1::Challenger& live = listed.challengers(0);
  ASSERT_EQ(listed.challengers(1).name(), "past");
  EXPECT_EQ(listed.challengers(1).metrics().SerializeAsString(),
            live.metrics().SerializeAsString());
  EXPECT_EQ(listed.challengers(1).comparison().SerializeAsString(),
            live.comparison().SerializeAsString());
  EXPECT_EQ(live.comparison().compared_samples(), 21000u - 1024);

  // Versions the model has not reached, or the log no longer holds.
  const grpc::Status ahead =
      Add("ahead", Config(), nullptr, "m", /*from_version=*/21001);
  EXPECT_EQ(ahead.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(ahead.error_message(), HasSubstr("after the model's version"));
  ASSERT_TRUE(Remove("live").ok());  // checkpoints 1000, 20000, 21000 remain
  const grpc::Status gone =
      Add("gone", Config(), nullptr, "m", /*from_version=*/999);
  EXPECT_EQ(gone.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(gone.error_message(),
              HasSubstr("the oldest version reachable is 1000"));
  EXPECT_THAT(ListAt(21000).challengers(), SizeIs(1));
}

TEST_F(ChallengerTest, AChallengerThatCannotLearnTheLogSinceItsStartIsRefused) {
  Create("m", v1::TASK_REGRESSION, 3, 0, Config());
  ObserveLabeled(examples_, 0, 100, false);
  v1::ObserveRequest sparse = Message("m", examples_, 100, 101);
  v1::NamedFeature* hashed =
      sparse.mutable_examples(0)->mutable_features()->add_named();
  hashed->set_namespace_("user");
  hashed->set_name("u1");
  v1::ObserveResponse response;
  ASSERT_TRUE(Observe({sparse}, &response).ok());
  ObserveLabeled(examples_, 101, 200, false);
  ListAt(200);

  const grpc::Status refused =
      Add("rls", Config(v1::OPTIMIZER_RLS), nullptr, "m", /*from_version=*/50);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr("cannot learn"));
  EXPECT_THAT(ListAt(200).challengers(), SizeIs(0));
  // From after the sparse sample it can.
  ASSERT_TRUE(
      Add("rls", Config(v1::OPTIMIZER_RLS), nullptr, "m", /*from_version=*/101)
          .ok());
  EXPECT_THAT(ListAt(200).challengers(), SizeIs(1));
}

}  // namespace
}  // namespace streamfit::testing
