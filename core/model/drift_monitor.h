// Watches a model's progressive loss for a rise (concept drift): averages
// the loss over blocks of kBlock samples and feeds each block's mean to a
// drift detector (docs/LEARNING.md, "Drift detection").
#ifndef STREAMFIT_CORE_MODEL_DRIFT_MONITOR_H_
#define STREAMFIT_CORE_MODEL_DRIFT_MONITOR_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "core/model/drift_detector.h"
#include "core/model/model_config.h"

namespace streamfit {

// Block means rather than single losses: a loss is heavy-tailed (a squared
// error is chi-square-like), a mean of 32 is close to normal, so the
// detectors' bounds hold and one outlier cannot raise an alarm; and the
// detector's work is paid once per block (a few ns per sample in all).
// A value type (copies are independent); not thread-safe.
class DriftMonitor {
 public:
  static constexpr int kBlock = 32;

  // kUnspecified means the default, ADWIN.
  explicit DriftMonitor(DriftDetectorKind kind);
  DriftMonitor(const DriftMonitor& other);
  DriftMonitor& operator=(const DriftMonitor& other);
  DriftMonitor(DriftMonitor&&) = default;
  DriftMonitor& operator=(DriftMonitor&&) = default;

  // Takes the progressive loss of the sample that made the model reach
  // `version`; true if a drift is detected there (counted, and its version
  // kept).
  bool Add(double loss, uint64_t version) {
    block_sum_ += loss;
    if (++block_count_ < kBlock) return false;
    return EndBlock(version);
  }

  DriftDetectorKind kind() const { return kind_; }
  uint64_t drifts_detected() const { return drifts_; }
  // The version at which the latest drift was detected (0: none yet).
  uint64_t last_drift_version() const { return last_drift_version_; }

  // The complete state, and the inverse (INVALID_ARGUMENT, unchanged, on a
  // state that is not one this kind of monitor exports).
  std::vector<double> ExportState() const;
  absl::Status Restore(const std::vector<double>& state);

 private:
  bool EndBlock(uint64_t version);

  DriftDetectorKind kind_;
  std::unique_ptr<DriftDetector> detector_;  // null for kNone
  double block_sum_ = 0;
  int block_count_ = 0;
  uint64_t drifts_ = 0;
  uint64_t last_drift_version_ = 0;
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_DRIFT_MONITOR_H_
