// RecoverModel over a real sample log and checkpoint files in a temporary
// directory. Checkpoint payloads here are keys into a table of models (the
// encoding is the caller's), so the test controls which ones decode.
#include "core/model_recovery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>

#include "core/online_batch_gap.h"
#include "core/storage/checkpoint.h"
#include "tests/testing/model_state.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::ExpectIdenticalState;
using ::streamfit::testing::IsOk;
using ::streamfit::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

ModelConfig Config() {
  ModelConfig config;
  config.task = Task::kRegression;
  config.num_features = 3;
  return config;
}

// n samples from sample number `start` on: a fixed linear target.
ExampleBatch Batch(uint64_t start, size_t n) {
  ExampleBatch b;
  b.num_features = 3;
  for (size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(start + i);
    const float x[3] = {static_cast<float>(std::sin(t)),
                        static_cast<float>(std::cos(0.7 * t)),
                        static_cast<float>(std::fmod(t, 5.0))};
    b.Add(x, 2 * x[0] - x[1] + 0.5 * x[2] + 1);
  }
  return b;
}

class ModelRecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::path(::testing::TempDir()) /
            ("recovery_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Logs batches of `n` samples up to version `end`, learning them into
  // the reference model too; `checkpoint_at` saves a checkpoint of the
  // reference when it reaches that version.
  void LogUpTo(uint64_t end, size_t n, uint64_t checkpoint_at = 0) {
    auto log = SampleLog::Open(dir_, {}, nullptr);
    ASSERT_THAT(log.status(), IsOk());
    while (reference_.version() < end) {
      const ExampleBatch batch = Batch(reference_.version(), n);
      ASSERT_THAT((*log)->Append(reference_.version(), batch).status(), IsOk());
      reference_.LearnBatch(batch);
      if (reference_.version() == checkpoint_at) Checkpoint("good");
    }
  }
  // A checkpoint of the reference's current state whose payload is `key`;
  // a key of "bad" does not decode.
  void Checkpoint(const std::string& key) {
    const std::string payload = key + std::to_string(reference_.version());
    if (key != "bad") checkpoints_.emplace(payload, reference_.model());
    ASSERT_THAT(CheckpointStore(dir_).Write(reference_.version(), payload),
                IsOk());
  }
  absl::StatusOr<RecoveredModel> Recover() {
    return RecoverModel(
        dir_, Config(), {},
        [this](const std::string& payload) -> absl::StatusOr<SlotState> {
          if (auto slot = slots_.find(payload); slot != slots_.end()) {
            return slot->second;
          }
          auto it = checkpoints_.find(payload);
          if (it == checkpoints_.end()) {
            return absl::DataLossError("undecodable checkpoint");
          }
          return SlotState{it->second, {}};
        });
  }

  std::string dir_;
  ModelTrainer reference_{*LinearModel::Create(Config())};
  std::map<std::string, LinearModel> checkpoints_;
  std::map<std::string, SlotState> slots_;  // checkpoints with challengers
};

TEST_F(ModelRecoveryTest, ACheckpointThenTheLogAfterItIsTheLearnedModel) {
  LogUpTo(250, 10, /*checkpoint_at=*/100);
  absl::StatusOr<RecoveredModel> recovered = Recover();
  ASSERT_THAT(recovered.status(), IsOk());
  EXPECT_EQ(recovered->checkpoint_version, 100u);
  EXPECT_EQ(recovered->log_report.end_version, 250u);
  EXPECT_THAT(recovered->failure, IsEmpty());
  ExpectIdenticalState(recovered->model, reference_.model());
}

TEST_F(ModelRecoveryTest, TheReplayLearnsTheChallengersAndMakesThePromotions) {
  ModelConfig slow = Config();
  slow.serving = Serving::kLive;  // auto would serve the least-squares fit
  slow.optimizer = Optimizer::kSgd;
  slow.schedule = Schedule::kConstant;
  slow.learning_rate = 1e-6;
  slow.policies.promote_confidence = 0.99;
  slow.policies.promote_window = 256;
  ModelSlot live(*LinearModel::Create(*WithDefaults(slow)));
  ModelConfig adagrad = Config();
  adagrad.optimizer = Optimizer::kAdagrad;
  ASSERT_THAT(live.AddChallenger("fast", Config()), IsOk());
  ASSERT_THAT(live.AddChallenger("adagrad", adagrad), IsOk());
  slots_.emplace("slot0", SlotState{live.model(), live.ChallengerStates()});
  ASSERT_THAT(CheckpointStore(dir_).Write(0, "slot0"), IsOk());
  std::vector<Promotion> made;
  {
    auto log = SampleLog::Open(dir_, {}, nullptr);
    ASSERT_THAT(log.status(), IsOk());
    for (uint64_t v = 0; v < 2000; v += 50) {
      const ExampleBatch batch = Batch(v, 50);
      ASSERT_THAT((*log)->Append(v, batch).status(), IsOk());
      live.LearnBatch(batch, 0, 50, &made);
    }
  }
  ASSERT_THAT(made, SizeIs(1));

  absl::StatusOr<RecoveredModel> recovered = Recover();
  ASSERT_THAT(recovered.status(), IsOk());
  ASSERT_THAT(recovered->promotions, SizeIs(1));
  EXPECT_EQ(recovered->promotions[0].name, made[0].name);
  EXPECT_EQ(recovered->promotions[0].version, made[0].version);
  ExpectIdenticalState(recovered->model, live.model());
  const std::vector<ChallengerState> challengers = live.ChallengerStates();
  ASSERT_THAT(recovered->challengers, SizeIs(challengers.size()));
  for (size_t i = 0; i < challengers.size(); ++i) {
    ExpectIdenticalState(recovered->challengers[i].model, challengers[i].model);
  }
}

TEST_F(ModelRecoveryTest, WithoutACheckpointTheWholeLogIsReplayed) {
  LogUpTo(120, 7);
  absl::StatusOr<RecoveredModel> recovered = Recover();
  ASSERT_THAT(recovered.status(), IsOk());
  EXPECT_EQ(recovered->checkpoint_version, 0u);
  ExpectIdenticalState(recovered->model, reference_.model());
}

TEST_F(ModelRecoveryTest, ACheckpointThatDoesNotDecodeIsSetAsideForAnOlder) {
  LogUpTo(200, 10, /*checkpoint_at=*/50);
  Checkpoint("bad");  // the newest, at 200
  absl::StatusOr<RecoveredModel> recovered = Recover();
  ASSERT_THAT(recovered.status(), IsOk());
  EXPECT_EQ(recovered->checkpoint_version, 50u);
  EXPECT_THAT(recovered->skipped_checkpoints, SizeIs(1));
  ExpectIdenticalState(recovered->model, reference_.model());
  EXPECT_TRUE(
      std::filesystem::exists(CheckpointStore(dir_).PathOf(200) + ".corrupt"));
  EXPECT_THAT(*CheckpointStore(dir_).List(), ElementsAre(50u));
}

TEST_F(ModelRecoveryTest, AnInvalidRecordStopsReplayAndNamesTheFailure) {
  LogUpTo(30, 10);
  const LinearModel before = reference_.model();
  {
    auto log = SampleLog::Open(dir_, {}, nullptr);
    ASSERT_THAT(log.status(), IsOk());
    ExampleBatch bad = Batch(30, 2);
    bad.labels[1] = NAN;  // a valid CRC over a sample Observe refuses
    ASSERT_THAT((*log)->Append(30, bad).status(), IsOk());
    ASSERT_THAT((*log)->Append(32, Batch(32, 5)).status(), IsOk());
  }
  absl::StatusOr<RecoveredModel> recovered = Recover();
  ASSERT_THAT(recovered.status(), IsOk());
  EXPECT_THAT(recovered->failure, HasSubstr("log record at version 30"));
  ExpectIdenticalState(recovered->model, before);
}

TEST_F(ModelRecoveryTest, ALogThatStartsPastTheModelIsDataLoss) {
  {
    auto log = SampleLog::Open(dir_, {}, nullptr);
    ASSERT_THAT(log.status(), IsOk());
    ASSERT_THAT((*log)->Append(40, Batch(40, 10)).status(), IsOk());
  }
  // No checkpoint: an empty model cannot continue at version 40.
  EXPECT_THAT(Recover().status(), StatusIs(absl::StatusCode::kDataLoss,
                                           HasSubstr("cannot be recovered")));
}

// The reference's state at `version`, learned in the batches LogUpTo(_, n)
// logs, the last one cut short.
LinearModel LearnedUpTo(uint64_t version, size_t n) {
  ModelTrainer trainer(*LinearModel::Create(Config()));
  while (trainer.version() < version) {
    const ExampleBatch batch = Batch(trainer.version(), n);
    trainer.LearnBatch(batch, 0,
                       std::min<uint64_t>(n, version - trainer.version()));
  }
  return std::move(trainer).TakeModel();
}

class RebuildModelAtTest : public ModelRecoveryTest {
 protected:
  absl::StatusOr<LinearModel> RebuildAt(const SampleLog& log,
                                        uint64_t version) {
    return RebuildModelAt(
        dir_, DefaultFileSystem(), log, version,
        [this](const std::string& payload) -> absl::StatusOr<LinearModel> {
          auto it = checkpoints_.find(payload);
          if (it == checkpoints_.end()) {
            return absl::DataLossError("undecodable checkpoint");
          }
          return it->second;
        });
  }
};

TEST_F(RebuildModelAtTest, EveryVersionFromTheOldestCheckpointIsTheLearnedOne) {
  Checkpoint("good");  // at 0
  LogUpTo(250, 10, /*checkpoint_at=*/100);
  auto log = SampleLog::Open(dir_, {}, nullptr);
  ASSERT_THAT(log.status(), IsOk());
  for (const uint64_t version : {0, 1, 37, 99, 100, 101, 137, 250}) {
    SCOPED_TRACE(version);
    absl::StatusOr<LinearModel> rebuilt = RebuildAt(**log, version);
    ASSERT_THAT(rebuilt.status(), IsOk());
    EXPECT_EQ(rebuilt->version(), version);
    ExpectIdenticalState(*rebuilt, LearnedUpTo(version, 10));
  }
}

TEST_F(RebuildModelAtTest, AVersionBeforeTheOldestCheckpointIsOutOfRange) {
  LogUpTo(250, 10, /*checkpoint_at=*/100);
  Checkpoint("good");  // at 250
  LogUpTo(300, 10);
  auto log = SampleLog::Open(dir_, {}, nullptr);
  ASSERT_THAT(log.status(), IsOk());
  EXPECT_THAT(RebuildAt(**log, 99).status(),
              StatusIs(absl::StatusCode::kOutOfRange,
                       HasSubstr("the oldest version reachable is 100")));
  // A checkpoint the log no longer continues from is not reachable.
  ASSERT_THAT((*log)->RemoveSegmentsBefore(250), IsOk());
  EXPECT_THAT(RebuildAt(**log, 120).status(),
              StatusIs(absl::StatusCode::kOutOfRange,
                       HasSubstr("the oldest version reachable is 250")));
  EXPECT_THAT(RebuildAt(**log, 260).status(), IsOk());
}

TEST_F(RebuildModelAtTest, ACheckpointThatReplacedTheStateStartsItsVersions) {
  Checkpoint("good");  // at 0
  LogUpTo(200, 10);
  // A retrain swap at 150: a state that replay alone cannot produce.
  ModelTrainer fitted(*LinearModel::Create(Config()));
  fitted.LearnBatch(Batch(1000, 150));
  checkpoints_.emplace("swap", fitted.model());
  ASSERT_THAT(CheckpointStore(dir_).Write(150, "swap"), IsOk());
  auto log = SampleLog::Open(dir_, {}, nullptr);
  ASSERT_THAT(log.status(), IsOk());

  absl::StatusOr<LinearModel> before = RebuildAt(**log, 149);
  ASSERT_THAT(before.status(), IsOk());
  ExpectIdenticalState(*before, LearnedUpTo(149, 10));
  absl::StatusOr<LinearModel> after = RebuildAt(**log, 175);
  ASSERT_THAT(after.status(), IsOk());
  for (uint64_t v = 150; v < 175; v += 10) {
    fitted.LearnBatch(Batch(v, 10), 0, std::min<uint64_t>(10, 175 - v));
  }
  ExpectIdenticalState(*after, fitted.model());
}

// MeasureOnlineBatchGap (core/online_batch_gap.h) over the same directory.
TEST_F(RebuildModelAtTest,
       TheGapScoresEachSampleBeforeLearningAndFitsTheWindow) {
  Checkpoint("good");  // at 0
  LogUpTo(300, 10, /*checkpoint_at=*/100);
  auto log = SampleLog::Open(dir_, {}, nullptr);
  ASSERT_THAT(log.status(), IsOk());
  absl::StatusOr<OnlineBatchGap> gap = MeasureOnlineBatchGap(
      dir_, DefaultFileSystem(), **log, 155, 300, FitAlgorithm::kLeastSquares,
      [this](const std::string& payload) -> absl::StatusOr<LinearModel> {
        return checkpoints_.at(payload);
      });
  ASSERT_THAT(gap.status(), IsOk());
  EXPECT_EQ(gap->from_version, 155u);
  EXPECT_EQ(gap->to_version, 300u);
  // Progressive: the learner's state before each sample scores it.
  ModelTrainer trainer(LearnedUpTo(155, 10));
  double online = 0;
  for (uint64_t v = 155; v < 300; ++v) {
    const ExampleBatch sample = Batch(v, 1);
    Prediction p;
    trainer.model().Predict(sample.view(0), p);
    online += (p.value - sample.labels[0]) * (p.value - sample.labels[0]);
    trainer.LearnBatch(sample);
  }
  EXPECT_DOUBLE_EQ(gap->online_loss, online / 145);
  // The labels are an exact linear function: least squares fits them (up
  // to the single-precision arithmetic of scoring, ~1e-6 in the estimate),
  // and so does the model's own least-squares fit, which it serves.
  EXPECT_LT(gap->batch_loss, 1e-10);
  EXPECT_LT(gap->online_loss, 1e-10);
}

TEST(ApplyLogRecordTest, SkipsTheSamplesTheModelHasAndRefusesAGap) {
  ModelSlot trainer(*LinearModel::Create(Config()));
  const LinearModel& model = trainer.model();
  ModelTrainer reference_trainer(model);
  const LinearModel& reference = reference_trainer.model();
  reference_trainer.LearnBatch(Batch(0, 8));
  trainer.LearnBatch(Batch(0, 5), 0, 5);
  ASSERT_THAT(ApplyLogRecord(trainer, 0, Batch(0, 8)), IsOk());
  ExpectIdenticalState(model, reference);
  EXPECT_THAT(ApplyLogRecord(trainer, 9, Batch(9, 2)),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(model.version(), 8u);
}

}  // namespace
}  // namespace streamfit
