#include "core/progressive_metrics.h"

#include <algorithm>
#include <numeric>

namespace streamfit {

ProgressiveMetrics::ProgressiveMetrics(int window) : window_(window) {
  ring_loss_.reserve(window);
  ring_correct_.reserve(window);
}

void ProgressiveMetrics::Add(double loss, bool correct, double abs_error) {
  ++count_;
  loss_sum_ += loss;
  correct_sum_ += correct ? 1 : 0;
  abs_sum_ += abs_error;
  sq_sum_ += abs_error * abs_error;
  if (ring_loss_.size() < static_cast<size_t>(window_)) {
    ring_loss_.push_back(loss);
    ring_correct_.push_back(correct);
  } else {
    ring_loss_[next_] = loss;
    ring_correct_[next_] = correct;
  }
  next_ = (next_ + 1) % window_;
}

MetricsSummary ProgressiveMetrics::Summary() const {
  MetricsSummary s;
  s.samples_seen = count_;
  if (count_ == 0) return s;
  const double n = static_cast<double>(count_);
  s.progressive_loss = loss_sum_ / n;
  s.progressive_accuracy = correct_sum_ / n;
  s.progressive_mae = abs_sum_ / n;
  s.progressive_mse = sq_sum_ / n;
  s.recent_window = ring_loss_.size();
  const double w = static_cast<double>(ring_loss_.size());
  s.recent_loss = std::accumulate(ring_loss_.begin(), ring_loss_.end(), 0.0) / w;
  s.recent_accuracy =
      std::accumulate(ring_correct_.begin(), ring_correct_.end(), 0.0) / w;
  return s;
}

ProgressiveMetrics::State ProgressiveMetrics::GetState() const {
  State st{count_, loss_sum_, correct_sum_, abs_sum_, sq_sum_, {}, {}};
  const size_t n = ring_loss_.size();
  const size_t start = n < static_cast<size_t>(window_) ? 0 : next_;
  for (size_t k = 0; k < n; ++k) {
    st.recent_loss.push_back(ring_loss_[(start + k) % n]);
    st.recent_correct.push_back(ring_correct_[(start + k) % n]);
  }
  return st;
}

ProgressiveMetrics ProgressiveMetrics::FromState(const State& st, int window) {
  ProgressiveMetrics m(window);
  m.count_ = st.count;
  m.loss_sum_ = st.loss_sum;
  m.correct_sum_ = st.correct_sum;
  m.abs_sum_ = st.abs_sum;
  m.sq_sum_ = st.sq_sum;
  const size_t n = std::min(st.recent_loss.size(), static_cast<size_t>(window));
  const size_t skip = st.recent_loss.size() - n;
  m.ring_loss_.assign(st.recent_loss.begin() + skip, st.recent_loss.end());
  m.ring_correct_.assign(st.recent_correct.begin() + skip,
                         st.recent_correct.end());
  m.next_ = n % window;
  return m;
}

}  // namespace streamfit
