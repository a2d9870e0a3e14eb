// Detectors of an increase in the mean of a stream of values: fed each
// sample's progressive loss, they tell when a live model has started to do
// worse than it did (concept drift). docs/LEARNING.md has the formulas.
#ifndef STREAMFIT_CORE_MODEL_DRIFT_DETECTOR_H_
#define STREAMFIT_CORE_MODEL_DRIFT_DETECTOR_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"

namespace streamfit {

// A detector of a rise in the mean of the values it is given. Add is called
// once per value, in order; it is deterministic (the same values give the
// same answers and state). A decrease (a model that learns and improves) is
// never reported. Value type, not thread-safe.
class DriftDetector {
 public:
  virtual ~DriftDetector() = default;
  // Takes one value (finite); true if it completes evidence that the mean has
  // risen. The detector then forgets what came before the change.
  virtual bool Add(double value) = 0;
  // The complete state, and the inverse: a detector that continues exactly.
  // Restore: INVALID_ARGUMENT if `state` is not one this kind exports.
  virtual std::vector<double> ExportState() const = 0;
  virtual absl::Status Restore(const std::vector<double>& state) = 0;
  virtual std::unique_ptr<DriftDetector> Clone() const = 0;
};

// ADWIN (Bifet & Gavalda, "Learning from time-changing data with adaptive
// windowing", SDM 2007), in its exponential-histogram form (ADWIN2): a window
// of the most recent values kept as buckets of 2^i values (at most
// `max_buckets` per size), cut whenever some split into an older part W0 (n0
// values) and a newer part W1 (n1) has means further apart than
//   eps = sqrt(2 r v L) + (2/3) r L,  L = ln(2 ln(n) / delta),
//   r = 1 / (n0 - k + 1) + 1 / (n1 - k + 1),
// n the window's width, v its variance, k the minimum part size (the bound
// of Bifet and Gavalda's Theorem 3, as MOA and River compute it). Splits at
// bucket boundaries are tested every `clock` values. A cut keeps the window
// current either way; it is reported as a drift only when W1's mean is the
// higher.
class Adwin final : public DriftDetector {
 public:
  struct Options {
    // Confidence: smaller, fewer false alarms. 1e-5 rather than the paper's
    // 0.002: losses are heavy-tailed, not bounded as its bound assumes.
    double delta = 1e-5;
    int clock = 32;       // values between tests
    int max_buckets = 5;  // per bucket size; at most Level::kCapacity - 1
    int min_part = 5;     // smallest W0 or W1 tested (k)
  };
  explicit Adwin(Options options);

  bool Add(double value) override;
  std::vector<double> ExportState() const override;
  absl::Status Restore(const std::vector<double>& state) override;
  std::unique_ptr<DriftDetector> Clone() const override;

  uint64_t width() const { return width_; }
  double mean() const { return width_ == 0 ? 0 : total_ / width_; }

 private:
  struct Bucket {
    double total = 0;     // sum of its values
    double variance = 0;  // sum of squared deviations from their mean
  };
  // The buckets of one size, oldest first, held inline: a level never holds
  // more than max_buckets + 1 (Compress then merges its two oldest), so a
  // copy of the detector, made at each publish of a model, allocates once
  // for all levels, and adding values allocates nothing.
  class Level {
   public:
    static constexpr size_t kCapacity = 8;
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    const Bucket& operator[](size_t i) const { return buckets_[i]; }
    const Bucket* begin() const { return buckets_.data(); }
    const Bucket* end() const { return buckets_.data() + size_; }
    void push_back(const Bucket& b) { buckets_[size_++] = b; }
    void pop_front();

   private:
    std::array<Bucket, kCapacity> buckets_{};
    size_t size_ = 0;
  };
  // Merges buckets so that no size has more than max_buckets.
  void Compress();
  // Cuts the oldest buckets while some split shows a change; returns
  // whether a cut found the newer part's mean higher.
  bool CutWhileChanged();
  void DropOldest();

  Options options_;
  // levels_[i]: buckets of 2^i values, oldest first.
  std::vector<Level> levels_;
  uint64_t width_ = 0;
  double total_ = 0, variance_ = 0;
  uint64_t ticks_ = 0;
};

// The Page-Hinkley test (Page 1954; Hinkley 1971), one-sided for a rise,
// on values standardized by their mean and standard deviation since the last
// alarm, exponentially weighted over about the last `memory` values (so its
// thresholds are in standard deviations, whatever the loss's scale, and a
// model's early learning transient fades from them), each clipped to
// [-5, 5] so that one outlier cannot alarm:
//   z_t = clip((x_t - mean_t) / sd_t),  m_t = m_{t-1} + z_t - delta,
//   M_t = min(M_{t-1}, m_t),  alarm when m_t - M_t > lambda
// (after `min_samples` values). Under no change m_t drifts down by delta per
// value; a rise of s standard deviations is found after about
// lambda / (s - delta) values.
class PageHinkley final : public DriftDetector {
 public:
  struct Options {
    double delta = 0.05;  // tolerated rise, in standard deviations
    double lambda = 100;  // alarm threshold, in standard deviations
    uint64_t min_samples = 100;
    double memory = 1000;  // values
  };
  explicit PageHinkley(Options options);

  bool Add(double value) override;
  std::vector<double> ExportState() const override;
  absl::Status Restore(const std::vector<double>& state) override;
  std::unique_ptr<DriftDetector> Clone() const override;

 private:
  void Reset();

  Options options_;
  uint64_t count_ = 0;
  double mean_ = 0, variance_ = 0;
  double sum_ = 0, min_sum_ = 0;
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_DRIFT_DETECTOR_H_
