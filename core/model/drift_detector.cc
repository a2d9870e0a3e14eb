#include "core/model/drift_detector.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace streamfit {
namespace {

constexpr double kMaxStandardized = 5;

absl::Status BadState(const char* what) {
  return absl::InvalidArgumentError(
      absl::StrCat("drift detector state: ", what));
}

bool AllFinite(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(),
                     [](double x) { return std::isfinite(x); });
}

}  // namespace

// --- ADWIN ---

Adwin::Adwin(Options options) : options_(options) {
  options_.max_buckets = std::clamp(options_.max_buckets, 1,
                                    static_cast<int>(Level::kCapacity) - 1);
}

void Adwin::Level::pop_front() {
  std::copy(buckets_.begin() + 1, buckets_.begin() + size_, buckets_.begin());
  --size_;
}

bool Adwin::Add(double value) {
  // The window's variance (sum of squared deviations) takes the new value
  // as Welford's update does.
  if (width_ > 0) {
    const double d = value - total_ / width_;
    variance_ += d * d * width_ / (width_ + 1);
  }
  ++width_;
  total_ += value;
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].push_back({value, 0});
  Compress();
  if (++ticks_ % options_.clock != 0) return false;
  return CutWhileChanged();
}

void Adwin::Compress() {
  for (size_t i = 0; i < levels_.size(); ++i) {
    if (levels_[i].size() <= static_cast<size_t>(options_.max_buckets)) break;
    const Bucket a = levels_[i][0], b = levels_[i][1];
    levels_[i].pop_front();
    levels_[i].pop_front();
    // Two buckets of n = 2^i values each: Chan et al.'s merge of their
    // squared deviations.
    const double n = std::ldexp(1.0, static_cast<int>(i));
    const double d = a.total / n - b.total / n;
    if (i + 1 == levels_.size()) levels_.emplace_back();
    levels_[i + 1].push_back(
        {a.total + b.total, a.variance + b.variance + d * d * n / 2});
  }
}

void Adwin::DropOldest() {
  // The oldest bucket is the first of the largest size present.
  size_t i = levels_.size();
  while (i > 0 && levels_[i - 1].empty()) --i;
  if (i == 0) return;
  Level& level = levels_[i - 1];
  const Bucket b = level[0];
  level.pop_front();
  const double n = std::ldexp(1.0, static_cast<int>(i - 1));
  const double rest = static_cast<double>(width_) - n;
  if (rest <= 0) {
    width_ = 0;
    total_ = variance_ = 0;
  } else {
    // The window's squared deviations without this bucket.
    const double d = b.total / n - (total_ - b.total) / rest;
    variance_ -= b.variance + d * d * n * rest / (n + rest);
    variance_ = std::max(variance_, 0.0);
    total_ -= b.total;
    width_ -= static_cast<uint64_t>(n);
  }
  while (!levels_.empty() && levels_.back().empty()) levels_.pop_back();
}

bool Adwin::CutWhileChanged() {
  bool rose = false;
  const double k = options_.min_part;
  for (bool cut = true; cut && width_ > 2 * static_cast<uint64_t>(k);) {
    cut = false;
    const double n = static_cast<double>(width_);
    const double v = variance_ / n;
    const double log_term = std::log(2 * std::log(n) / options_.delta);
    double n0 = 0, total0 = 0;
    // Splits at bucket boundaries, from the oldest bucket on.
    for (size_t i = levels_.size(); i-- > 0 && !cut;) {
      const double size = std::ldexp(1.0, static_cast<int>(i));
      for (const Bucket& b : levels_[i]) {
        n0 += size;
        total0 += b.total;
        const double n1 = n - n0;
        if (n1 < k) break;
        if (n0 < k) continue;
        const double mean0 = total0 / n0, mean1 = (total_ - total0) / n1;
        const double r = 1 / (n0 - k + 1) + 1 / (n1 - k + 1);
        const double eps =
            std::sqrt(2 * r * v * log_term) + 2.0 / 3.0 * r * log_term;
        if (std::abs(mean1 - mean0) > eps) {
          rose = rose || mean1 > mean0;
          cut = true;
          break;
        }
      }
    }
    if (cut) DropOldest();
  }
  return rose;
}

std::vector<double> Adwin::ExportState() const {
  // width, total, variance, ticks, levels, then per level its bucket count
  // and (total, variance) per bucket.
  std::vector<double> state = {static_cast<double>(width_), total_, variance_,
                               static_cast<double>(ticks_),
                               static_cast<double>(levels_.size())};
  for (const auto& level : levels_) {
    state.push_back(static_cast<double>(level.size()));
    for (const Bucket& b : level) {
      state.push_back(b.total);
      state.push_back(b.variance);
    }
  }
  return state;
}

absl::Status Adwin::Restore(const std::vector<double>& state) {
  if (state.size() < 5 || !AllFinite(state)) return BadState("malformed");
  auto count = [](double v) {
    return v >= 0 && v < 1e18 && v == std::floor(v);
  };
  if (!count(state[0]) || !count(state[3]) || !count(state[4]) ||
      state[4] > 64 || state[2] < 0) {
    return BadState("counts out of range");
  }
  std::vector<Level> levels(static_cast<size_t>(state[4]));
  size_t at = 5;
  double width = 0;
  for (size_t i = 0; i < levels.size(); ++i) {
    if (at >= state.size() || !count(state[at]) ||
        state[at] > options_.max_buckets) {
      return BadState("bucket counts out of range");
    }
    const size_t buckets = static_cast<size_t>(state[at++]);
    if (state.size() - at < 2 * buckets) return BadState("truncated");
    for (size_t b = 0; b < buckets; ++b, at += 2) {
      if (state[at + 1] < 0) return BadState("negative variance");
      levels[i].push_back({state[at], state[at + 1]});
      width += std::ldexp(1.0, static_cast<int>(i));
    }
  }
  if (at != state.size() || width != state[0]) {
    return BadState("width does not match its buckets");
  }
  levels_ = std::move(levels);
  width_ = static_cast<uint64_t>(state[0]);
  total_ = state[1];
  variance_ = state[2];
  ticks_ = static_cast<uint64_t>(state[3]);
  return absl::OkStatus();
}

std::unique_ptr<DriftDetector> Adwin::Clone() const {
  return std::make_unique<Adwin>(*this);
}

// --- Page-Hinkley ---

PageHinkley::PageHinkley(Options options) : options_(options) {}

void PageHinkley::Reset() {
  count_ = 0;
  mean_ = variance_ = sum_ = min_sum_ = 0;
}

bool PageHinkley::Add(double value) {
  ++count_;
  // Exact mean and variance for the first `memory` values, then
  // exponentially weighted ones (West 1979) over about that many.
  const double w = 1 / std::min(static_cast<double>(count_), options_.memory);
  const double d = value - mean_;
  mean_ += w * d;
  variance_ = (1 - w) * (variance_ + w * d * d);
  if (count_ < 2) return false;
  const double sd = std::sqrt(variance_);
  const double z = sd > 0 ? std::clamp((value - mean_) / sd, -kMaxStandardized,
                                       kMaxStandardized)
                          : 0.0;
  sum_ += z - options_.delta;
  min_sum_ = std::min(min_sum_, sum_);
  if (count_ < options_.min_samples || sum_ - min_sum_ <= options_.lambda) {
    return false;
  }
  Reset();
  return true;
}

std::vector<double> PageHinkley::ExportState() const {
  return {static_cast<double>(count_), mean_, variance_, sum_, min_sum_};
}

absl::Status PageHinkley::Restore(const std::vector<double>& state) {
  if (state.size() != 5 || !AllFinite(state)) return BadState("malformed");
  if (!(state[0] >= 0 && state[0] < 1e18 && state[0] == std::floor(state[0])) ||
      state[2] < 0 || state[4] > 0 || state[3] < state[4]) {
    return BadState("values out of range");
  }
  count_ = static_cast<uint64_t>(state[0]);
  mean_ = state[1];
  variance_ = state[2];
  sum_ = state[3];
  min_sum_ = state[4];
  return absl::OkStatus();
}

std::unique_ptr<DriftDetector> PageHinkley::Clone() const {
  return std::make_unique<PageHinkley>(*this);
}

}  // namespace streamfit
