// Progressive validation: every sample is scored just before it is learned,
// and the scores are averaged over all samples and over a recent window.
#ifndef STREAMFIT_CORE_MODEL_PROGRESSIVE_METRICS_H_
#define STREAMFIT_CORE_MODEL_PROGRESSIVE_METRICS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace streamfit {

// What a model reports about its own recent and overall quality.
struct MetricsSummary {
  uint64_t samples_seen = 0;
  double progressive_loss = 0;  // squared error (regression) or log loss
  double recent_loss = 0;
  uint64_t recent_window = 0;       // samples behind the recent figures
  double progressive_accuracy = 0;  // classification
  double recent_accuracy = 0;
  double progressive_mae = 0;  // regression
  double progressive_mse = 0;
  // Updates not applied because they would have made the model non-finite
  // (filled in by the model, not by ProgressiveMetrics).
  uint64_t skipped_updates = 0;
  // Rises of the loss found by the drift detector, and the version at which
  // the latest was found (0: none; filled in by the model).
  uint64_t drifts_detected = 0;
  uint64_t last_drift_version = 0;
};

// A value type; not thread-safe. Sums are kept in double; the window is a ring
// buffer, so memory is O(window).
class ProgressiveMetrics {
 public:
  static constexpr int kDefaultWindow = 1000;
  explicit ProgressiveMetrics(int window = kDefaultWindow);

  // `loss` is the metric loss of the prediction, `correct` whether a
  // classifier's top class was right, `abs_error` |prediction - label| for
  // regression (0 otherwise).
  void Add(double loss, bool correct, double abs_error);

  MetricsSummary Summary() const;
  // The metric losses summed over every sample seen.
  double loss_sum() const { return loss_sum_; }

  // Complete state, for snapshots: totals then the window in ring order.
  struct State {
    uint64_t count = 0;
    double loss_sum = 0, correct_sum = 0, abs_sum = 0, sq_sum = 0;
    std::vector<double> recent_loss;     // oldest first
    std::vector<double> recent_correct;  // oldest first
  };
  State GetState() const;
  static ProgressiveMetrics FromState(const State& state,
                                      int window = kDefaultWindow);

 private:
  int window_;
  uint64_t count_ = 0;
  double loss_sum_ = 0, correct_sum_ = 0, abs_sum_ = 0, sq_sum_ = 0;
  std::vector<double> ring_loss_, ring_correct_;
  size_t next_ = 0;  // ring slot of the next sample
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_PROGRESSIVE_METRICS_H_
