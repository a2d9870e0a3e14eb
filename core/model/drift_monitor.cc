#include "core/model/drift_monitor.h"

#include <cmath>

namespace streamfit {
namespace {

std::unique_ptr<DriftDetector> NewDetector(DriftDetectorKind kind) {
  switch (kind) {
    case DriftDetectorKind::kUnspecified:
    case DriftDetectorKind::kAdwin:
      // Tests every 4 blocks (128 samples): a test visits every bucket
      // boundary, about 40 ns per sample if run after each block.
      return std::make_unique<Adwin>(Adwin::Options{.clock = 4});
    case DriftDetectorKind::kPageHinkley:
      return std::make_unique<PageHinkley>(PageHinkley::Options{});
    case DriftDetectorKind::kNone:
      break;
  }
  return nullptr;
}

bool IsCount(double v) { return v >= 0 && v < 1e18 && v == std::floor(v); }

}  // namespace

DriftMonitor::DriftMonitor(DriftDetectorKind kind)
    : kind_(kind), detector_(NewDetector(kind)) {}

DriftMonitor::DriftMonitor(const DriftMonitor& other)
    : kind_(other.kind_),
      detector_(other.detector_ ? other.detector_->Clone() : nullptr),
      block_sum_(other.block_sum_),
      block_count_(other.block_count_),
      drifts_(other.drifts_),
      last_drift_version_(other.last_drift_version_) {}

DriftMonitor& DriftMonitor::operator=(const DriftMonitor& other) {
  if (this != &other) *this = DriftMonitor(other);
  return *this;
}

bool DriftMonitor::EndBlock(uint64_t version) {
  const double mean = block_sum_ / kBlock;
  block_sum_ = 0;
  block_count_ = 0;
  if (detector_ == nullptr || !detector_->Add(mean)) return false;
  ++drifts_;
  last_drift_version_ = version;
  return true;
}

std::vector<double> DriftMonitor::ExportState() const {
  std::vector<double> state = {block_sum_, static_cast<double>(block_count_),
                               static_cast<double>(drifts_),
                               static_cast<double>(last_drift_version_)};
  if (detector_ != nullptr) {
    const std::vector<double> d = detector_->ExportState();
    state.insert(state.end(), d.begin(), d.end());
  }
  return state;
}

absl::Status DriftMonitor::Restore(const std::vector<double>& state) {
  if (state.size() < 4 || !std::isfinite(state[0]) || !IsCount(state[1]) ||
      state[1] >= kBlock || !IsCount(state[2]) || !IsCount(state[3])) {
    return absl::InvalidArgumentError("drift monitor state is malformed");
  }
  const std::vector<double> rest(state.begin() + 4, state.end());
  if (detector_ == nullptr) {
    if (!rest.empty()) {
      return absl::InvalidArgumentError(
          "drift monitor state has a detector the model has not");
    }
  } else {
    std::unique_ptr<DriftDetector> restored = detector_->Clone();
    if (absl::Status s = restored->Restore(rest); !s.ok()) return s;
    detector_ = std::move(restored);
  }
  block_sum_ = state[0];
  block_count_ = static_cast<int>(state[1]);
  drifts_ = static_cast<uint64_t>(state[2]);
  last_drift_version_ = static_cast<uint64_t>(state[3]);
  return absl::OkStatus();
}

}  // namespace streamfit
