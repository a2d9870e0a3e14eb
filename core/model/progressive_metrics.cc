#include "core/model/progressive_metrics.h"

#include <algorithm>

namespace streamfit {

ProgressiveMetrics::ProgressiveMetrics(int window)
    : window_(std::max(window, 1)) {
  ring_loss_.reserve(window_);
  ring_correct_.reserve(window_);
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
  if (++next_ == static_cast<size_t>(window_)) next_ = 0;
}

MetricsSummary ProgressiveMetrics::Summary() const {
  MetricsSummary s;
  s.samples_seen = count_;
  if (count_ == 0) return s;
  const double total = static_cast<double>(count_);
  s.progressive_loss = loss_sum_ / total;
  s.progressive_accuracy = correct_sum_ / total;
  s.progressive_mae = abs_sum_ / total;
  s.progressive_mse = sq_sum_ / total;
  s.recent_window = ring_loss_.size();
  // Oldest first, so a model restored from its state sums in the same order
  // and reports bit-identical figures.
  const size_t n = ring_loss_.size();
  const size_t start = n < static_cast<size_t>(window_) ? 0 : next_;
  double loss = 0, correct = 0;
  for (size_t k = 0; k < n; ++k) {
    loss += ring_loss_[(start + k) % n];
    correct += ring_correct_[(start + k) % n];
  }
  s.recent_loss = loss / static_cast<double>(n);
  s.recent_accuracy = correct / static_cast<double>(n);
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
  const size_t n =
      std::min(st.recent_loss.size(), static_cast<size_t>(m.window_));
  const size_t skip = st.recent_loss.size() - n;
  m.ring_loss_.assign(st.recent_loss.begin() + skip, st.recent_loss.end());
  m.ring_correct_.assign(st.recent_correct.begin() + skip,
                         st.recent_correct.end());
  m.next_ = n % m.window_;
  return m;
}

}  // namespace streamfit
