// Iterate averaging (docs/LEARNING.md, "Iterate averaging"): the averaged
// weights are the weighted mean of the iterates, computed here independently
// from the live weights recorded after every update; state restores
// bit-identically; auto serving follows the lower recent loss; a change of
// the stream and the drift policy reset restart the average.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/model/feature_hash.h"
#include "core/model/linear_model.h"
#include "core/model/model_config.h"
#include "core/model/model_trainer.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::IsOk;

const NamedTensor& Tensor(const std::vector<NamedTensor>& state,
                          const std::string& name) {
  for (const NamedTensor& t : state) {
    if (t.name == name) return t;
  }
  ADD_FAILURE() << "no tensor " << name;
  static const NamedTensor kNone;
  return kNone;
}

// Updates taken so far (the first "optimizer" value).
double Steps(const LinearModel& model) {
  return Tensor(model.ExportState(), "optimizer").values[0];
}

LinearModel Create(ModelConfig config) {
  absl::StatusOr<LinearModel> model = LinearModel::Create(config);
  EXPECT_THAT(model, IsOk());
  return *std::move(model);
}

// Expects `got` within 1e-9 (relative to the largest iterate) of `want`.
void ExpectClose(double got, double want, double scale, const char* what) {
  EXPECT_NEAR(got, want, 1e-9 * std::max(1.0, scale)) << what;
}

// The t-th update since the average started has weight t: the mean is
// sum_t t w_t / sum_t t, over the live weights after each update.
TEST(AveragingTest, DenseAveragedWeightsAreTheWeightedMeanOfTheIterates) {
  for (Optimizer rule : {Optimizer::kNormalized, Optimizer::kSgd,
                         Optimizer::kAdagrad, Optimizer::kFtrl}) {
    ModelConfig config;
    config.task = Task::kRegression;
    config.num_features = 3;
    config.optimizer = rule;
    config.serving = Serving::kAveraged;
    ModelTrainer trainer(Create(config));
    std::mt19937 rng(7);
    std::normal_distribution<float> normal;
    std::vector<double> sum(4, 0.0);  // weights then the bias
    double weights = 0, t = 0;
    double scale = 0;
    for (int i = 0; i < 600; ++i) {
      // Unlike scales, so the normalized rule also rescales weights.
      const std::vector<float> x = {normal(rng), 10 * normal(rng),
                                    0.1f * normal(rng)};
      const double before = Steps(trainer.model());
      trainer.Learn(x, 2 * x[0] - 0.3 * x[1] + 5 * x[2] + 0.1 * normal(rng));
      if (Steps(trainer.model()) == before) continue;  // no update
      t += 1;
      weights += t;
      const std::vector<NamedTensor> state = trainer.model().ExportState();
      const std::vector<double>& w = Tensor(state, "weights").values;
      for (int j = 0; j < 3; ++j) {
        sum[j] += t * w[j];
        scale = std::max(scale, std::abs(w[j]));
      }
      sum[3] += t * Tensor(state, "bias").values[0];
    }
    ASSERT_GT(t, 590);
    EXPECT_EQ(trainer.model().AveragedUpdates(), static_cast<uint64_t>(t));
    for (uint32_t j = 0; j < 4; ++j) {
      ExpectClose(trainer.model().AveragedDenseWeight(0, j), sum[j] / weights,
                  scale, OptimizerName(rule).data());
    }
    // The average differs from the live weights (or the test shows nothing).
    EXPECT_NE(trainer.model().AveragedDenseWeight(0, 0),
              Tensor(trainer.model().ExportState(), "weights").values[0]);
  }
}

// Binary, hashed features only, with examples that repeat a feature (a slot
// changed twice in one update) and slots that come and go.
TEST(AveragingTest, SparseAveragedWeightsAreTheWeightedMeanOfTheIterates) {
  for (Optimizer rule : {Optimizer::kNormalized, Optimizer::kAdagrad}) {
    ModelConfig config;
    config.task = Task::kBinary;
    config.hash_bits = 6;
    config.optimizer = rule;
    config.serving = Serving::kAveraged;
    ModelTrainer trainer(Create(config));
    const uint32_t ns = HashNamespace("");
    std::mt19937 rng(3);
    std::uniform_int_distribution<uint32_t> feature(0, 99);
    std::map<uint32_t, double> sum;  // slot -> sum_t t w_t
    double weights = 0, t = 0;
    for (int i = 0; i < 400; ++i) {
      std::vector<uint32_t> hashes, namespaces;
      std::vector<float> values;
      for (int f = 0; f < 5; ++f) {
        hashes.push_back(HashFeatureIndex(ns, feature(rng)));
        namespaces.push_back(ns);
        values.push_back(f % 2 == 0 ? 1.0f : 0.5f);
      }
      hashes.push_back(hashes[0]);  // a repeat
      namespaces.push_back(ns);
      values.push_back(2);
      const double label = hashes[1] % 3 == 0 ? 1 : 0;
      trainer.Learn(ExampleView{{}, hashes, namespaces, values}, label);
      t += 1;
      weights += t;
      for (uint32_t slot = 0; slot < 64; ++slot) {
        sum[slot] += t * trainer.model().SparseWeight(slot);
      }
    }
    int differing = 0;
    for (uint32_t slot = 0; slot < 64; ++slot) {
      const double avg = trainer.model().AveragedSparseWeight(slot);
      ExpectClose(avg, sum[slot] / weights, 1, OptimizerName(rule).data());
      differing += avg != trainer.model().SparseWeight(slot);
    }
    EXPECT_GT(differing, 32);

    // Predict serves the averaged weights' score, read in the same lookup
    // of each slot as the live one's.
    const LinearModel& m = trainer.model();
    const std::vector<uint32_t> hashes = {HashFeatureIndex(ns, 1),
                                          HashFeatureIndex(ns, 2),
                                          HashFeatureIndex(ns, 1)};
    const std::vector<uint32_t> namespaces(3, ns);
    const std::vector<float> values = {1.0f, -0.5f, 2.0f};
    double score = m.AveragedDenseWeight(0, 0);  // the bias
    for (size_t f = 0; f < hashes.size(); ++f) {
      score += m.AveragedSparseWeight(HashSlot(hashes[f], 6)) * values[f];
    }
    Prediction p;
    m.Predict(ExampleView{{}, hashes, namespaces, values}, p);
    ExpectClose(p.value, 1 / (1 + std::exp(-score)), 1,
                OptimizerName(rule).data());
  }
}

// A stream of dense and hashed features, y = w . x + noise, with w negated
// after `change` samples.
class Stream {
 public:
  Stream(uint32_t seed, uint64_t change) : rng_(seed), change_(change) {
    for (float& w : w_) w = normal_(rng_);
  }
  // The next sample; `x` holds the dense features, the sparse ones go to
  // hashes/values.
  double Next(std::vector<float>& x, std::vector<uint32_t>& hashes,
              std::vector<uint32_t>& namespaces, std::vector<float>& values) {
    ++t_;
    const double sign = t_ > change_ ? -1 : 1;
    x.resize(4);
    double y = 0;
    for (int j = 0; j < 4; ++j) {
      x[j] = normal_(rng_);
      y += sign * w_[j] * x[j];
    }
    hashes.clear();
    namespaces.clear();
    values.clear();
    const uint32_t ns = HashNamespace("");
    for (int f = 0; f < 3; ++f) {
      const uint32_t index =
          std::uniform_int_distribution<uint32_t>(0, 19)(rng_);
      hashes.push_back(HashFeatureIndex(ns, index));
      namespaces.push_back(ns);
      values.push_back(1);
      y += sign * (static_cast<int>(index % 5) - 2) * 0.5;
    }
    return y + 0.5 * normal_(rng_);
  }

 private:
  std::mt19937 rng_;
  std::normal_distribution<float> normal_;
  uint64_t change_, t_ = 0;
  float w_[4];
};

ModelConfig StreamConfig(Serving serving) {
  ModelConfig config;
  config.task = Task::kRegression;
  config.num_features = 4;
  config.hash_bits = 10;
  config.serving = serving;
  return config;
}

TEST(AveragingTest, RestoredStateContinuesBitIdentically) {
  for (Serving serving : {Serving::kAuto, Serving::kAveraged}) {
    ModelTrainer trainer(Create(StreamConfig(serving)));
    Stream stream(5, 3000);
    std::vector<float> x, values;
    std::vector<uint32_t> hashes, namespaces;
    for (int i = 0; i < 2500; ++i) {
      const double y = stream.Next(x, hashes, namespaces, values);
      trainer.Learn(ExampleView{x, hashes, namespaces, values}, y);
    }
    const LinearModel& model = trainer.model();
    ASSERT_GT(model.AveragedUpdates(), 0u);
    absl::StatusOr<LinearModel> restored = LinearModel::FromState(
        model.config(), model.version(), model.ExportState());
    ASSERT_THAT(restored, IsOk());
    ModelTrainer copy(*std::move(restored));
    // On through the change (restarts of the average included).
    for (int i = 0; i < 3000; ++i) {
      const double y = stream.Next(x, hashes, namespaces, values);
      const ExampleView view{x, hashes, namespaces, values};
      Prediction a, b;
      trainer.model().Predict(view, a);
      copy.model().Predict(view, b);
      ASSERT_EQ(a.value, b.value) << i;
      trainer.Learn(view, y);
      copy.Learn(view, y);
    }
    const std::vector<NamedTensor> want = trainer.model().ExportState();
    const std::vector<NamedTensor> got = copy.model().ExportState();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].name, want[i].name);
      EXPECT_EQ(got[i].shape, want[i].shape) << want[i].name;
      EXPECT_EQ(got[i].values, want[i].values) << want[i].name;
    }
    EXPECT_NE(&Tensor(want, "averaging_sparse"), nullptr);
  }
}

// Snapshots written when each hashed slot kept the version that last wrote
// it carry that stamp before the slot's accumulators: they restore to the
// same state, and a stamp outside the current average is refused.
TEST(AveragingTest, FromStateReadsStampedAccumulators) {
  ModelTrainer trainer(Create(StreamConfig(Serving::kAveraged)));
  Stream stream(5, 1000);
  std::vector<float> x, values;
  std::vector<uint32_t> hashes, namespaces;
  for (int i = 0; i < 50; ++i) {
    const double y = stream.Next(x, hashes, namespaces, values);
    trainer.Learn(ExampleView{x, hashes, namespaces, values}, y);
  }
  const std::vector<NamedTensor> want = trainer.model().ExportState();
  for (const double stamp : {50.0, 51.0}) {  // this version, a future one
    std::vector<NamedTensor> stamped = want;
    for (NamedTensor& t : stamped) {
      if (t.name != "averaging_sparse") continue;
      ASSERT_EQ(t.shape.size(), 2u);
      ASSERT_GT(t.shape[0], 0u);
      ASSERT_EQ(t.shape[1], 1u);
      std::vector<double> rows;
      for (double c : t.values) rows.insert(rows.end(), {stamp, c});
      t.values = rows;
      t.shape[1] = 2;
    }
    absl::StatusOr<LinearModel> restored =
        LinearModel::FromState(trainer.model().config(), 50, stamped);
    if (stamp == 51) {
      EXPECT_FALSE(restored.ok());
      continue;
    }
    ASSERT_THAT(restored, IsOk());
    const std::vector<NamedTensor> got = restored->ExportState();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].values, want[i].values) << want[i].name;
    }
  }
}

// After a restart, the averaged weights are the mean of the iterates since
// it, in every kind of block of the table: one written before and since
// (its accumulators left from the earlier average are zeroed, a slot not
// written since included), one written before only (its accumulators no
// longer count), one first written between the change and the restart, and
// one first written after the restart.
TEST(AveragingTest, SparseAverageRestartsAcrossBlocks) {
  constexpr uint32_t kBits = 14;  // four blocks of 2^12 slots
  ModelConfig config;
  config.task = Task::kRegression;
  config.hash_bits = kBits;
  config.serving = Serving::kAveraged;
  ModelTrainer trainer(Create(config));
  const uint32_t ns = HashNamespace("");
  // Before the change, features in blocks 0 and 1; after it, those in
  // block 0 but the first, and those in block 2; after the restart, also
  // those in block 3.
  std::vector<uint32_t> before, after, restarted, slots;
  std::vector<int> block_features(4);
  for (uint32_t i = 0; i < 200; ++i) {
    const uint32_t block = HashSlot(HashFeatureIndex(ns, i), kBits) >> 12;
    if (block <= 1) before.push_back(i);
    if ((block == 0 && block_features[0] > 0) || block >= 2) {
      restarted.push_back(i);
      if (block != 3) after.push_back(i);
    }
    ++block_features[block];
  }
  for (int features : block_features) ASSERT_GE(features, 10);
  for (uint32_t i : before) {
    slots.push_back(HashSlot(HashFeatureIndex(ns, i), kBits));
  }
  for (uint32_t i : restarted) {
    slots.push_back(HashSlot(HashFeatureIndex(ns, i), kBits));
  }
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 0.1);
  std::vector<std::vector<double>> iterates;  // per update, per slot
  constexpr int kChange = 3000;
  int restarted_at = -1;
  for (int i = 0; i < 20'000 && (restarted_at < 0 || i < restarted_at + 300);
       ++i) {
    const std::vector<uint32_t>& features =
        i < kChange ? before : (restarted_at < 0 ? after : restarted);
    std::vector<uint32_t> hashes, namespaces;
    std::vector<float> values;
    double y = noise(rng);
    for (int f = 0; f < 3; ++f) {
      const uint32_t index = features[std::uniform_int_distribution<size_t>(
          0, features.size() - 1)(rng)];
      hashes.push_back(HashFeatureIndex(ns, index));
      namespaces.push_back(ns);
      values.push_back(1);
      y += (i < kChange ? 1.0 : -1.0) * (static_cast<int>(index % 7) - 3);
    }
    trainer.Learn(ExampleView{{}, hashes, namespaces, values}, y);
    iterates.emplace_back();
    for (uint32_t slot : slots) {
      iterates.back().push_back(trainer.model().SparseWeight(slot));
    }
    if (restarted_at < 0 && i >= kChange &&
        trainer.model().AveragedUpdates() <
            static_cast<uint64_t>(i - kChange)) {
      restarted_at = i;
    }
  }
  ASSERT_GE(restarted_at, 0) << "the average never restarted";
  const LinearModel& m = trainer.model();
  const size_t updates = m.AveragedUpdates();
  ASSERT_LT(updates, iterates.size() - kChange);
  int unchanged = 0, changed = 0;
  for (size_t f = 0; f < slots.size(); ++f) {
    double sum = 0, weights = 0;
    for (size_t t = 1; t <= updates; ++t) {
      sum += t * iterates[iterates.size() - updates + t - 1][f];
      weights += t;
    }
    const double averaged = m.AveragedSparseWeight(slots[f]);
    ExpectClose(averaged, sum / weights, std::abs(m.SparseWeight(slots[f])),
                "slot");
    if (iterates[iterates.size() - updates][f] == m.SparseWeight(slots[f])) {
      ++unchanged;  // not written since the restart
      EXPECT_EQ(averaged, m.SparseWeight(slots[f]));
    } else {
      ++changed;
    }
  }
  EXPECT_GT(unchanged, block_features[1]);  // block 1 and block 0's first
  EXPECT_GT(changed, block_features[2] + block_features[3]);
}

// Auto serves whichever recent loss is lower, and Predict serves exactly
// those weights.
TEST(AveragingTest, AutoServesTheLowerRecentLoss) {
  ModelTrainer trainer(Create(StreamConfig(Serving::kAuto)));
  const LinearModel& model = trainer.model();
  Stream stream(9, 6000);
  std::vector<float> x, values;
  std::vector<uint32_t> hashes, namespaces;
  int averaged = 0, live = 0;
  for (int i = 0; i < 9000; ++i) {
    const double y = stream.Next(x, hashes, namespaces, values);
    const ExampleView view{x, hashes, namespaces, values};
    if (i % 50 == 0) {
      EXPECT_EQ(model.ServesAveraged(),
                model.RecentAveragedLoss() < model.RecentLiveLoss());
      ModelConfig as = model.config();
      as.serving = model.ServesAveraged() ? Serving::kAveraged : Serving::kLive;
      absl::StatusOr<LinearModel> pinned =
          LinearModel::FromState(as, model.version(), model.ExportState());
      ASSERT_THAT(pinned, IsOk());
      Prediction served, want;
      model.Predict(view, served);
      pinned->Predict(view, want);
      EXPECT_EQ(served.value, want.value);
      (model.ServesAveraged() ? averaged : live) += 1;
    }
    trainer.Learn(view, y);
    // On a stationary stream the average wins once it has some iterates.
    if (i == 5999) {
      EXPECT_TRUE(model.ServesAveraged());
    }
    // A few hundred samples after the change the average (restarted) has
    // not caught up with the live weights yet.
    if (i == 6400) {
      EXPECT_FALSE(model.ServesAveraged());
      EXPECT_LT(model.AveragedUpdates(), 400u);
    }
  }
  EXPECT_GT(averaged, 20);
  EXPECT_GT(live, 20);
}

// The drift test's stream (weights negated at 20,000): the progressive loss
// with auto serving is not worse after the change than serving live, and
// lower before it.
TEST(AveragingTest, AutoFollowsAnAbruptChangeAsFastAsLive) {
  double before[2] = {}, after[2] = {};
  for (int s = 0; s < 2; ++s) {
    ModelTrainer trainer(
        Create(StreamConfig(s == 0 ? Serving::kLive : Serving::kAuto)));
    Stream stream(1, 20'000);
    std::vector<float> x, values;
    std::vector<uint32_t> hashes, namespaces;
    for (int i = 0; i < 40'000; ++i) {
      const double y = stream.Next(x, hashes, namespaces, values);
      trainer.Learn(ExampleView{x, hashes, namespaces, values}, y);
      if (i + 1 == 20'000) {
        before[s] = trainer.model().metrics().progressive_mse;
      }
    }
    after[s] = (trainer.model().metrics().progressive_mse * 40'000 -
                before[s] * 20'000) /
               20'000;
  }
  std::printf(
      "progressive MSE before/after the change: live %.5f %.5f, "
      "auto %.5f %.5f\n",
      before[0], after[0], before[1], after[1]);
  EXPECT_LT(before[1], before[0]);
  EXPECT_LT(after[1], 1.02 * after[0]);
}

TEST(AveragingTest, DriftResetRestartsTheAverage) {
  ModelConfig config = StreamConfig(Serving::kAveraged);
  config.drift_policy = DriftPolicy::kReset;
  ModelTrainer trainer(Create(config));
  Stream stream(1, 20'000);
  std::vector<float> x, values;
  std::vector<uint32_t> hashes, namespaces;
  for (int i = 0; i < 21'000; ++i) {
    const double y = stream.Next(x, hashes, namespaces, values);
    trainer.Learn(ExampleView{x, hashes, namespaces, values}, y);
  }
  const MetricsSummary m = trainer.model().metrics();
  ASSERT_GE(m.drifts_detected, 1u);
  EXPECT_GT(m.last_drift_version, 20'000u);
  EXPECT_LE(trainer.model().AveragedUpdates(),
            trainer.model().version() - m.last_drift_version + 1);
}

TEST(AveragingTest, LiveServingKeepsNoAverage) {
  ModelTrainer trainer(Create(StreamConfig(Serving::kLive)));
  Stream stream(2, 1000);
  std::vector<float> x, values;
  std::vector<uint32_t> hashes, namespaces;
  for (int i = 0; i < 100; ++i) {
    const double y = stream.Next(x, hashes, namespaces, values);
    trainer.Learn(ExampleView{x, hashes, namespaces, values}, y);
  }
  EXPECT_FALSE(trainer.model().ServesAveraged());
  EXPECT_EQ(trainer.model().AveragedUpdates(), 0u);
  for (const NamedTensor& t : trainer.model().ExportState()) {
    EXPECT_EQ(t.name.find("averaging"), std::string::npos) << t.name;
  }
}

TEST(AveragingTest, RlsServesLiveAndRefusesAveraged) {
  ModelConfig config;
  config.task = Task::kRegression;
  config.num_features = 2;
  config.optimizer = Optimizer::kRls;
  absl::StatusOr<ModelConfig> full = WithDefaults(config);
  ASSERT_THAT(full, IsOk());
  EXPECT_EQ(full->serving, Serving::kLive);
  config.serving = Serving::kAuto;
  EXPECT_EQ(WithDefaults(config)->serving, Serving::kLive);
  config.serving = Serving::kAveraged;
  EXPECT_FALSE(WithDefaults(config).ok());
  config.serving = static_cast<Serving>(7);
  config.optimizer = Optimizer::kNormalized;
  EXPECT_FALSE(WithDefaults(config).ok());
}

}  // namespace
}  // namespace streamfit
