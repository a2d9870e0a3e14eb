// ModelSlot: challengers learn exactly what a model of their config learns
// from their start, compare with the champion per block, and a promotion
// (by hand or by policy) continues bit-identically and deterministically.
#include "core/model/model_slot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "tests/testing/model_state.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::ExpectIdenticalState;
using ::streamfit::testing::IsOk;
using ::streamfit::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;

ModelConfig Config() {
  ModelConfig config;
  config.task = Task::kRegression;
  config.num_features = 3;
  return config;
}

// A champion that learns slowly: plain SGD with a tiny constant rate,
// serving its live weights (auto would serve the least-squares fit).
ModelConfig SlowConfig() {
  ModelConfig config = Config();
  config.serving = Serving::kLive;
  config.optimizer = Optimizer::kSgd;
  config.schedule = Schedule::kConstant;
  config.learning_rate = 1e-5;
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

ModelConfig ConfigWith(Optimizer optimizer) {
  ModelConfig config = Config();
  config.optimizer = optimizer;
  return config;
}

// One sample with a hashed feature, which rls does not learn.
ExampleBatch SparseSample() {
  ExampleBatch b;
  b.num_features = 3;
  const float x[3] = {1, 2, 3};
  const uint32_t hash = 7, ns = 0;
  const float value = 1;
  b.Add(ExampleView{x, {&hash, 1}, {&ns, 1}, {&value, 1}}, 1.0);
  return b;
}

LinearModel Empty(const ModelConfig& config) {
  return *LinearModel::Create(*WithDefaults(config));
}

// A model of `config` that joins at `version`, as AddChallenger makes it.
ModelTrainer JoiningAt(ModelConfig config, uint64_t version,
                       const ModelConfig& champion) {
  config.policies = champion.policies;
  const ModelConfig full = *WithDefaults(config);
  return ModelTrainer(*LinearModel::FromState(
      full, version, LinearModel::Create(full)->ExportState()));
}

void Learn(ModelSlot& slot, uint64_t from, uint64_t to, size_t batch_size,
           std::vector<Promotion>* promotions = nullptr) {
  for (uint64_t v = from; v < to; v += batch_size) {
    const ExampleBatch b = Batch(v, std::min<uint64_t>(batch_size, to - v));
    slot.LearnBatch(b, 0, b.size(), promotions);
  }
}

TEST(ModelSlotTest, AChallengerLearnsWhatItsConfigLearnsFromItsStart) {
  ModelSlot slot(Empty(Config()));
  ModelTrainer champion(Empty(Config()));
  Learn(slot, 0, 300, 64);
  champion.LearnBatch(Batch(0, 300));
  const ModelConfig adagrad = ConfigWith(Optimizer::kAdagrad);
  ASSERT_THAT(slot.AddChallenger("adagrad", adagrad), IsOk());
  ModelTrainer challenger = JoiningAt(adagrad, 300, slot.config());
  Learn(slot, 300, 1300, 50);
  champion.LearnBatch(Batch(300, 1000));
  challenger.LearnBatch(Batch(300, 1000));

  ExpectIdenticalState(slot.model(), champion.model());
  const std::vector<ChallengerState> challengers = slot.ChallengerStates();
  ASSERT_THAT(challengers, SizeIs(1));
  EXPECT_EQ(challengers[0].record.name, "adagrad");
  EXPECT_EQ(challengers[0].record.start_version, 300u);
  ExpectIdenticalState(challengers[0].model, challenger.model());
  EXPECT_EQ(challengers[0].model.metrics().samples_seen, 1000u);
}

TEST(ModelSlotTest, ComparesTheLossesOfTheSameSamplesPerBlock) {
  ModelSlot slot(Empty(SlowConfig()));
  Learn(slot, 0, 100, 100);
  ASSERT_THAT(slot.AddChallenger("default", Config()), IsOk());
  const double champion_at_128 = [&] {
    Learn(slot, 100, 128, 100);
    return slot.model().loss_sum();
  }();
  const double challenger_at_128 = slot.ChallengerStates()[0].model.loss_sum();
  Learn(slot, 128, 128 + 4 * 128 + 5, 37);  // four whole blocks, and 5 more

  const ChallengerState c = slot.ChallengerStates()[0];
  // The comparison starts at the first block end after joining (128).
  EXPECT_EQ(c.record.comparison_start, 128u);
  EXPECT_EQ(c.record.champion_loss_at_start, champion_at_128);
  EXPECT_EQ(c.record.challenger_loss_at_start, challenger_at_128);
  ASSERT_THAT(c.record.block_differences, SizeIs(4));
  const ChallengerComparison compared =
      Compare(c.record, slot.model(), c.model, 1 << 20);
  EXPECT_EQ(compared.compared_samples, 4u * 128 + 5);
  EXPECT_DOUBLE_EQ(compared.champion_loss,
                   (slot.model().loss_sum() - champion_at_128) / (4 * 128 + 5));
  EXPECT_DOUBLE_EQ(compared.challenger_loss,
                   (c.model.loss_sum() - challenger_at_128) / (4 * 128 + 5));
  EXPECT_EQ(compared.window_samples, 4u * 128);
  // The default rule learns this target far faster than the slow champion.
  EXPECT_GT(compared.loss_difference, 0);
  EXPECT_GT(compared.confidence, 0.99);
}

TEST(ModelSlotTest, ConfidenceIsTheNormalTailOfTheBlockMeansT) {
  ChallengerRecord record;
  record.block_differences = {1, 2, 3, 4};
  const LinearModel model = Empty(Config());
  // mean 2.5; sd = sqrt((1.5^2 + 0.5^2 + 0.5^2 + 1.5^2) / 3) = sqrt(5/3);
  // t = 2.5 / (sd / 2) = 3.8730; Phi(t) = 0.999946.
  ChallengerComparison c = Compare(record, model, model, 512);
  EXPECT_DOUBLE_EQ(c.loss_difference, 2.5);
  EXPECT_NEAR(c.confidence, 0.999946, 1e-6);
  // The window takes the newest blocks: {3, 4}, t = 3.5 / (0.7071 / 1.4142)
  // = 7 -> Phi = 1 - 1.28e-12.
  c = Compare(record, model, model, 256);
  EXPECT_DOUBLE_EQ(c.loss_difference, 3.5);
  EXPECT_EQ(c.window_samples, 256u);
  EXPECT_NEAR(c.confidence, 1, 1e-11);
  // Fewer than two blocks: undecided.
  EXPECT_EQ(Compare(record, model, model, 128).confidence, 0.5);
  record.block_differences = {-1, -1, -1};
  EXPECT_EQ(Compare(record, model, model, 1 << 20).confidence, 0);
}

// Under the null hypothesis (block differences of mean zero, independent),
// a window's confidence reaches c in about 1 - c of the windows: the false
// promotion rate per window that promote_confidence states.
TEST(ModelSlotTest, AnEqualChallengerReachesAConfidenceAsRarelyAsItStates) {
  const LinearModel model = Empty(Config());
  constexpr uint64_t kWindow = 10'000;  // the default: 79 blocks
  constexpr int kTrials = 20'000;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> difference(0, 0.3);
  int over_95 = 0, over_99 = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    ChallengerRecord record;
    for (uint64_t b = 0; b < (kWindow + 127) / 128; ++b) {
      record.block_differences.push_back(difference(rng));
    }
    const double confidence = Compare(record, model, model, kWindow).confidence;
    over_95 += confidence >= 0.95;
    over_99 += confidence >= 0.99;
  }
  // Student's t with 78 degrees of freedom: 0.052 and 0.011.
  EXPECT_NEAR(over_95 / double{kTrials}, 0.05, 0.006);
  EXPECT_NEAR(over_99 / double{kTrials}, 0.01, 0.003);
}

TEST(ModelSlotTest, PromotionContinuesBitIdenticallyAtTheSameVersion) {
  ModelSlot slot(Empty(Config()));
  Learn(slot, 0, 200, 64);
  ModelConfig ftrl = Config();
  ftrl.optimizer = Optimizer::kFtrl;
  ModelConfig adam = Config();
  adam.optimizer = Optimizer::kAdam;
  ASSERT_THAT(slot.AddChallenger("ftrl", ftrl), IsOk());
  ASSERT_THAT(slot.AddChallenger("adam", adam), IsOk());
  ModelTrainer reference = JoiningAt(ftrl, 200, slot.config());
  Learn(slot, 200, 777, 64);
  reference.LearnBatch(Batch(200, 577));
  const MetricsSummary replaced = slot.model().metrics();

  absl::StatusOr<Promotion> promoted = slot.Promote("ftrl");
  ASSERT_THAT(promoted, IsOk());
  EXPECT_EQ(promoted->version, 777u);
  EXPECT_FALSE(promoted->automatic);
  EXPECT_EQ(promoted->replaced.samples_seen, replaced.samples_seen);
  ExpectIdenticalState(*promoted->state->champion, reference.model());
  ASSERT_THAT(promoted->state->challengers, SizeIs(1));
  EXPECT_EQ(promoted->state->challengers[0].record.name, "adam");
  // The remaining challenger compares with the new champion from the next
  // block end on.
  EXPECT_EQ(promoted->state->challengers[0].record.comparison_start, 896u);
  EXPECT_TRUE(promoted->state->challengers[0].record.block_differences.empty());

  Learn(slot, 777, 1500, 100);
  reference.LearnBatch(Batch(777, 723));
  ExpectIdenticalState(slot.model(), reference.model());
  EXPECT_EQ(slot.config().optimizer, Optimizer::kFtrl);
  EXPECT_THAT(slot.Promote("ftrl"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(ModelSlotTest, ThePolicyPromotesAtABlockEndTheSameWayInAnyBatching) {
  ModelConfig slow = SlowConfig();
  slow.policies.promote_confidence = 0.999;
  slow.policies.promote_window = 1024;
  auto run = [&](size_t batch_size, std::vector<Promotion>* promotions) {
    ModelSlot slot(Empty(slow));
    Learn(slot, 0, 50, batch_size);
    EXPECT_THAT(slot.AddChallenger("default", Config()), IsOk());
    Learn(slot, 50, 4000, batch_size, promotions);
    return std::move(slot).TakeState();
  };
  std::vector<Promotion> in_sevens, in_hundreds;
  const SlotState a = run(7, &in_sevens);
  const SlotState b = run(100, &in_hundreds);

  ASSERT_THAT(in_sevens, SizeIs(1));
  ASSERT_THAT(in_hundreds, SizeIs(1));
  const Promotion& p = in_sevens[0];
  EXPECT_TRUE(p.automatic);
  EXPECT_EQ(p.name, "default");
  // Tested once per window: at a multiple of it, a full window after the
  // comparison began at 128.
  EXPECT_EQ(p.version % 1024, 0u);
  EXPECT_GE(p.version, 128u + 1024);
  EXPECT_GE(p.comparison.confidence, 0.999);
  EXPECT_EQ(in_hundreds[0].version, p.version);
  EXPECT_EQ(in_hundreds[0].comparison.confidence, p.comparison.confidence);
  EXPECT_TRUE(a.challengers.empty());
  EXPECT_EQ(a.champion.config().optimizer, Optimizer::kNormalized);
  // The slot's policies stay with the promoted champion.
  EXPECT_EQ(a.champion.config().policies, WithDefaults(slow)->policies);
  ExpectIdenticalState(a.champion, b.champion);
}

TEST(ModelSlotTest, ASlotFromItsStateContinuesAsTheUninterruptedOne) {
  ModelSlot whole(Empty(Config()));
  Learn(whole, 0, 100, 50);
  const ModelConfig adagrad = ConfigWith(Optimizer::kAdagrad);
  ASSERT_THAT(whole.AddChallenger("adagrad", adagrad), IsOk());
  Learn(whole, 100, 1000, 50);
  SlotState saved{whole.model(), whole.ChallengerStates()};
  ModelSlot resumed(std::move(saved));
  Learn(whole, 1000, 2000, 64);
  Learn(resumed, 1000, 2000, 64);

  ExpectIdenticalState(resumed.model(), whole.model());
  const ChallengerState a = whole.ChallengerStates()[0];
  const ChallengerState b = resumed.ChallengerStates()[0];
  ExpectIdenticalState(a.model, b.model);
  EXPECT_EQ(a.record.block_differences, b.record.block_differences);
  EXPECT_EQ(a.record.champion_loss_at_block, b.record.champion_loss_at_block);
}

TEST(ModelSlotTest, RefusesChallengersThatCannotLearnTheSamples) {
  ModelSlot slot(Empty(Config()));
  ModelConfig other = Config();
  other.num_features = 4;
  EXPECT_THAT(
      slot.AddChallenger("wide", other),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_features")));
  other = Config();
  other.task = Task::kBinary;
  EXPECT_THAT(slot.AddChallenger("binary", other),
              StatusIs(absl::StatusCode::kInvalidArgument));
  other = Config();
  other.learning_rate = -1;
  EXPECT_THAT(slot.AddChallenger("bad", other),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(slot.AddChallenger("", Config()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  for (size_t i = 0; i < ModelSlot::kMaxChallengers; ++i) {
    ASSERT_THAT(slot.AddChallenger("c" + std::to_string(i), Config()), IsOk());
  }
  EXPECT_THAT(slot.AddChallenger("c0", Config()),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(slot.AddChallenger("one_more", Config()),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(slot.RemoveChallenger("c3"), IsOk());
  EXPECT_THAT(slot.RemoveChallenger("c3"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(slot.ChallengerStates(), SizeIs(ModelSlot::kMaxChallengers - 1));
}

TEST(ModelSlotTest, AChallengerThatRefusesASampleLeavesAndTheChampionLearns) {
  ModelSlot slot(Empty(Config()));
  const ModelConfig rls = ConfigWith(Optimizer::kRls);
  ASSERT_THAT(slot.AddChallenger("rls", rls), IsOk());
  ASSERT_THAT(slot.AddChallenger("adagrad", ConfigWith(Optimizer::kAdagrad)),
              IsOk());
  Learn(slot, 0, 100, 10);
  const ExampleBatch sparse = SparseSample();
  slot.LearnBatch(sparse, 0, 1);

  EXPECT_EQ(slot.version(), 101u);
  ASSERT_THAT(slot.ChallengerStates(), SizeIs(1));
  EXPECT_EQ(slot.ChallengerStates()[0].record.name, "adagrad");
  EXPECT_EQ(slot.ChallengerStates()[0].model.version(), 101u);
  ASSERT_THAT(slot.dropped(), SizeIs(1));
  EXPECT_EQ(slot.dropped()[0].name, "rls");
  EXPECT_EQ(slot.dropped()[0].version, 100u);
  EXPECT_THAT(slot.dropped()[0].reason, HasSubstr("rls"));
}

// A challenger started at an earlier version: a slot rebuilt at that
// version learns the samples since, then hands the challenger over.
TEST(ModelSlotTest, AChallengerCaughtUpElsewhereIsTheOneThatJoinedLive) {
  const ModelConfig adagrad = ConfigWith(Optimizer::kAdagrad);
  ModelSlot live(Empty(Config()));
  Learn(live, 0, 300, 50);
  ASSERT_THAT(live.AddChallenger("adagrad", adagrad), IsOk());
  Learn(live, 300, 2000, 50);

  ModelSlot caught_up(Empty(Config()));
  Learn(caught_up, 0, 300, 64);
  caught_up.DisableAutomaticPromotion();
  ASSERT_THAT(caught_up.AddChallenger("adagrad", adagrad), IsOk());
  Learn(caught_up, 300, 2000, 64);
  ModelSlot joined(Empty(Config()));
  Learn(joined, 0, 2000, 100);
  ASSERT_THAT(joined.TakeChallenger(caught_up, "adagrad"), IsOk());
  EXPECT_THAT(caught_up.Holds("adagrad"),
              StatusIs(absl::StatusCode::kNotFound));
  Learn(live, 2000, 3000, 50);
  Learn(joined, 2000, 3000, 37);

  const ChallengerState a = live.ChallengerStates()[0];
  const ChallengerState b = joined.ChallengerStates()[0];
  ExpectIdenticalState(a.model, b.model);
  EXPECT_EQ(b.record.start_version, 300u);
  EXPECT_EQ(b.record.comparison_start, a.record.comparison_start);
  EXPECT_THAT(b.record.block_differences, SizeIs((3000 - 384) / 128));
  EXPECT_EQ(b.record.block_differences, a.record.block_differences);
  EXPECT_EQ(b.record.champion_loss_at_start, a.record.champion_loss_at_start);
}

TEST(ModelSlotTest, ATakenChallengerComparesAfreshIfTheChampionDiffers) {
  ModelSlot caught_up(Empty(SlowConfig()));
  ASSERT_THAT(caught_up.AddChallenger("default", Config()), IsOk());
  Learn(caught_up, 0, 1000, 100);
  ModelSlot joined(Empty(Config()));
  Learn(joined, 0, 1000, 100);
  ASSERT_THAT(joined.TakeChallenger(caught_up, "default"), IsOk());

  const ChallengerState c = joined.ChallengerStates()[0];
  EXPECT_EQ(c.model.metrics().samples_seen, 1000u);
  EXPECT_EQ(c.record.comparison_start, 1024u);
  EXPECT_THAT(c.record.block_differences, SizeIs(0));
  EXPECT_EQ(c.record.champion_loss_at_start, joined.model().loss_sum());
}

TEST(ModelSlotTest, TakesOnlyAChallengerAtItsVersionThatLearnedEverySample) {
  const ModelConfig rls = ConfigWith(Optimizer::kRls);
  ModelSlot other(Empty(Config()));
  ASSERT_THAT(other.AddChallenger("rls", rls), IsOk());
  ASSERT_THAT(other.AddChallenger("adagrad", ConfigWith(Optimizer::kAdagrad)),
              IsOk());
  Learn(other, 0, 10, 10);
  ModelSlot slot(Empty(Config()));
  EXPECT_THAT(slot.TakeChallenger(other, "adagrad"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("at version 10, the model at version 0")));
  Learn(slot, 0, 10, 10);
  const ExampleBatch sparse = SparseSample();
  other.LearnBatch(sparse, 0, 1);
  slot.LearnBatch(sparse, 0, 1);

  EXPECT_THAT(slot.TakeChallenger(other, "rls"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("cannot learn the model's samples after "
                                 "version 10")));
  EXPECT_THAT(slot.TakeChallenger(other, "nobody"),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(slot.AddChallenger("adagrad", Config()), IsOk());
  EXPECT_THAT(slot.TakeChallenger(other, "adagrad"),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(other.Holds("adagrad"), IsOk());
}

TEST(ModelSlotTest, ASlotThatCatchesUpLeavesPromotionToTheLiveOne) {
  ModelConfig slow = SlowConfig();
  slow.policies.promote_confidence = 0.999;
  slow.policies.promote_window = 1024;
  ModelSlot slot(Empty(slow));
  slot.DisableAutomaticPromotion();
  ASSERT_THAT(slot.AddChallenger("default", Config()), IsOk());
  std::vector<Promotion> promotions;
  Learn(slot, 0, 4000, 100, &promotions);

  EXPECT_THAT(promotions, SizeIs(0));
  ASSERT_THAT(slot.ChallengerStates(), SizeIs(1));
  // Better with the confidence the policy asks: the live slot would promote.
  const ChallengerState c = slot.ChallengerStates()[0];
  EXPECT_GE(Compare(c.record, slot.model(), c.model, 1024).confidence, 0.999);
}

}  // namespace
}  // namespace streamfit
