#include "core/model/progressive_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <iomanip>
#include <random>
#include <vector>

namespace streamfit {
namespace {

struct Sample {
  double loss;
  bool correct;
  double abs_error;
};

std::vector<Sample> RandomSamples(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(0, 3);
  std::vector<Sample> samples(n);
  for (Sample& s : samples) {
    s.loss = uniform(rng);
    s.correct = uniform(rng) < 2;
    s.abs_error = uniform(rng);
  }
  return samples;
}

// Bit-identical, with enough digits in the message to see a difference.
void ExpectSameSummary(const MetricsSummary& a, const MetricsSummary& b) {
  EXPECT_EQ(a.samples_seen, b.samples_seen);
  EXPECT_EQ(a.progressive_loss, b.progressive_loss);
  EXPECT_EQ(a.recent_loss, b.recent_loss)
      << std::setprecision(17) << a.recent_loss << " vs " << b.recent_loss;
  EXPECT_EQ(a.recent_window, b.recent_window);
  EXPECT_EQ(a.progressive_accuracy, b.progressive_accuracy);
  EXPECT_EQ(a.recent_accuracy, b.recent_accuracy);
  EXPECT_EQ(a.progressive_mae, b.progressive_mae);
  EXPECT_EQ(a.progressive_mse, b.progressive_mse);
}

TEST(ProgressiveMetricsTest, SummaryIsZeroWhenEmpty) {
  ProgressiveMetrics metrics(10);
  const MetricsSummary s = metrics.Summary();
  EXPECT_EQ(s.samples_seen, 0u);
  EXPECT_EQ(s.progressive_loss, 0);
  EXPECT_EQ(s.recent_loss, 0);
  EXPECT_EQ(s.recent_window, 0u);
}

TEST(ProgressiveMetricsTest, SummaryAveragesOverallAndRecentWindow) {
  ProgressiveMetrics metrics(3);
  metrics.Add(1, true, 1);
  metrics.Add(2, false, 2);
  MetricsSummary s = metrics.Summary();
  EXPECT_EQ(s.samples_seen, 2u);
  EXPECT_EQ(s.recent_window, 2u);
  EXPECT_DOUBLE_EQ(s.progressive_loss, 1.5);
  EXPECT_DOUBLE_EQ(s.recent_loss, 1.5);
  EXPECT_DOUBLE_EQ(s.progressive_accuracy, 0.5);
  EXPECT_DOUBLE_EQ(s.progressive_mae, 1.5);
  EXPECT_DOUBLE_EQ(s.progressive_mse, 2.5);

  metrics.Add(3, true, 0);
  metrics.Add(10, true, 4);  // pushes the first sample out of the window
  s = metrics.Summary();
  EXPECT_EQ(s.samples_seen, 4u);
  EXPECT_EQ(s.recent_window, 3u);
  EXPECT_DOUBLE_EQ(s.progressive_loss, 16.0 / 4);
  EXPECT_DOUBLE_EQ(s.recent_loss, 15.0 / 3);
  EXPECT_DOUBLE_EQ(s.progressive_accuracy, 3.0 / 4);
  EXPECT_DOUBLE_EQ(s.recent_accuracy, 2.0 / 3);
  EXPECT_DOUBLE_EQ(s.progressive_mae, 7.0 / 4);
  EXPECT_DOUBLE_EQ(s.progressive_mse, 21.0 / 4);
}

TEST(ProgressiveMetricsTest, RecentWindowCoversTheLastSamplesAfterWrapAround) {
  constexpr int kWindow = 7;
  const std::vector<Sample> samples = RandomSamples(100, 5);
  ProgressiveMetrics metrics(kWindow);
  for (size_t i = 0; i < samples.size(); ++i) {
    metrics.Add(samples[i].loss, samples[i].correct, samples[i].abs_error);
    const size_t n = i + 1;
    const size_t w = std::min<size_t>(n, kWindow);
    double loss = 0, correct = 0;
    for (size_t k = n - w; k < n; ++k) {
      loss += samples[k].loss;
      correct += samples[k].correct;
    }
    const MetricsSummary s = metrics.Summary();
    ASSERT_EQ(s.recent_window, w);
    ASSERT_NEAR(s.recent_loss, loss / w, 1e-12) << "after " << n;
    ASSERT_DOUBLE_EQ(s.recent_accuracy, correct / w) << "after " << n;
  }
}

TEST(ProgressiveMetricsTest, GetStateListsWindowOldestFirst) {
  ProgressiveMetrics metrics(3);
  for (int i = 1; i <= 5; ++i) metrics.Add(i, i % 2 == 0, 0);
  const ProgressiveMetrics::State state = metrics.GetState();
  EXPECT_EQ(state.count, 5u);
  EXPECT_EQ(state.loss_sum, 15);
  EXPECT_EQ(state.correct_sum, 2);
  EXPECT_EQ(state.recent_loss, (std::vector<double>{3, 4, 5}));
  EXPECT_EQ(state.recent_correct, (std::vector<double>{0, 1, 0}));
}

TEST(ProgressiveMetricsTest, FromStateRoundTripGivesIdenticalSummary) {
  constexpr int kWindow = 16;
  const std::vector<Sample> samples = RandomSamples(200, 9);
  // Before the window fills, exactly when it fills, and after it wraps at
  // every ring position: the window's sum must not depend on where the ring
  // starts.
  for (int split = 1; split <= 3 * kWindow + 1; ++split) {
    SCOPED_TRACE(split);
    ProgressiveMetrics original(kWindow);
    for (int i = 0; i < split; ++i) {
      original.Add(samples[i].loss, samples[i].correct, samples[i].abs_error);
    }
    ProgressiveMetrics restored =
        ProgressiveMetrics::FromState(original.GetState(), kWindow);
    ExpectSameSummary(original.Summary(), restored.Summary());
    // And both continue identically.
    for (size_t i = split; i < samples.size(); ++i) {
      original.Add(samples[i].loss, samples[i].correct, samples[i].abs_error);
      restored.Add(samples[i].loss, samples[i].correct, samples[i].abs_error);
    }
    ExpectSameSummary(original.Summary(), restored.Summary());
    const ProgressiveMetrics::State a = original.GetState();
    const ProgressiveMetrics::State b = restored.GetState();
    EXPECT_EQ(a.recent_loss, b.recent_loss);
    EXPECT_EQ(a.recent_correct, b.recent_correct);
    if (HasFailure()) break;  // one failing split says enough
  }
}

TEST(ProgressiveMetricsTest, FromStateKeepsNewestWhenWindowShrinks) {
  ProgressiveMetrics metrics(5);
  for (int i = 1; i <= 5; ++i) metrics.Add(i, true, 0);
  ProgressiveMetrics smaller =
      ProgressiveMetrics::FromState(metrics.GetState(), 2);
  const MetricsSummary s = smaller.Summary();
  EXPECT_EQ(s.samples_seen, 5u);
  EXPECT_EQ(s.recent_window, 2u);
  EXPECT_DOUBLE_EQ(s.recent_loss, 4.5);
  EXPECT_DOUBLE_EQ(s.progressive_loss, 3);
  smaller.Add(10, false, 0);
  EXPECT_DOUBLE_EQ(smaller.Summary().recent_loss, 7.5);
}

}  // namespace
}  // namespace streamfit
