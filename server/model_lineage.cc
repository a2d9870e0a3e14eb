#include "server/model_lineage.h"

#include <algorithm>
#include <utility>

#include "server/proto_convert.h"

namespace streamfit {
namespace {

// The sums behind a ModelMetrics' means, so that metrics of consecutive
// spans add and subtract.
struct Sums {
  double loss = 0, correct = 0, abs = 0, sq = 0;
  uint64_t count = 0;
  uint64_t skipped = 0, drifts = 0, last_drift = 0;
};

Sums SumsOf(const v1::ModelMetrics& m) {
  const double n = static_cast<double>(m.samples_seen());
  return {m.progressive_loss() * n, m.progressive_accuracy() * n,
          m.progressive_mae() * n,  m.progressive_mse() * n,
          m.samples_seen(),         m.skipped_updates(),
          m.drifts_detected(),      m.last_drift_version()};
}

// Means of `s`; the recent window is filled in by the caller.
v1::ModelMetrics MetricsOf(const Sums& s) {
  v1::ModelMetrics m;
  m.set_samples_seen(s.count);
  if (s.count > 0) {
    const double n = static_cast<double>(s.count);
    m.set_progressive_loss(s.loss / n);
    m.set_progressive_accuracy(s.correct / n);
    m.set_progressive_mae(s.abs / n);
    m.set_progressive_mse(s.sq / n);
  }
  m.set_skipped_updates(s.skipped);
  m.set_drifts_detected(s.drifts);
  m.set_last_drift_version(s.last_drift);
  return m;
}

uint64_t Minus(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

}  // namespace

Lineage CreatedLineage(int64_t unix_ms) {
  v1::ModelLineage created;
  created.set_event(v1::LINEAGE_CREATED);
  created.set_unix_ms(unix_ms);
  created.mutable_state_metrics();
  created.mutable_lifetime_metrics();
  return {created};
}

Lineage AppendLineage(const Lineage& lineage, v1::ModelLineage event,
                      const MetricsSummary& current) {
  *event.mutable_lifetime_metrics() = LifetimeMetrics(lineage, current);
  const size_t keep = std::min(lineage.size(), kMaxLineageEvents - 1);
  Lineage next(lineage.end() - static_cast<std::ptrdiff_t>(keep),
               lineage.end());
  next.push_back(std::move(event));
  return next;
}

v1::ModelLineage RestoredEvent(const RestoreOrigin& origin,
                               uint64_t restored_version,
                               const MetricsSummary& restored,
                               uint64_t previous_version, int64_t unix_ms) {
  v1::ModelLineage event;
  event.set_event(v1::LINEAGE_RESTORED);
  event.set_model_version(restored_version);
  event.set_previous_version(previous_version);
  event.set_unix_ms(unix_ms);
  event.set_snapshot_name(origin.snapshot_name);
  event.set_snapshot_model(origin.snapshot_model);
  ToProto(restored, event.mutable_state_metrics());
  return event;
}

v1::ModelLineage RetrainedEvent(const SwapRecord& swap, int64_t unix_ms) {
  v1::ModelLineage event;
  event.set_event(v1::LINEAGE_RETRAINED);
  event.set_model_version(swap.version);
  event.set_previous_version(swap.version);
  event.set_unix_ms(unix_ms);
  event.set_job_id(swap.job_id);
  event.set_algorithm(swap.algorithm);
  event.set_dataset_id(swap.dataset_id);
  ToProto(swap.adopted, event.mutable_state_metrics());
  return event;
}

v1::ModelLineage PromotedEvent(const Promotion& promotion, int64_t unix_ms) {
  v1::ModelLineage event;
  event.set_event(v1::LINEAGE_PROMOTED);
  event.set_model_version(promotion.version);
  event.set_previous_version(promotion.version);
  event.set_unix_ms(unix_ms);
  event.set_challenger(promotion.name);
  event.set_automatic(promotion.automatic);
  ToProto(promotion.state->champion->metrics(), event.mutable_state_metrics());
  return event;
}

v1::ModelMetrics MetricsSinceLineage(const Lineage& lineage,
                                     const MetricsSummary& current) {
  v1::ModelMetrics now;
  ToProto(current, &now);
  const Sums cur = SumsOf(now);
  const Sums base =
      lineage.empty() ? Sums{} : SumsOf(lineage.back().state_metrics());
  Sums since;
  since.count = Minus(cur.count, base.count);
  if (since.count > 0) {
    since.loss = cur.loss - base.loss;
    since.correct = cur.correct - base.correct;
    since.abs = cur.abs - base.abs;
    since.sq = cur.sq - base.sq;
  }
  since.skipped = Minus(cur.skipped, base.skipped);
  since.drifts = Minus(cur.drifts, base.drifts);
  since.last_drift = since.drifts > 0 ? cur.last_drift : 0;
  v1::ModelMetrics m = MetricsOf(since);
  if (since.count >= current.recent_window) {
    m.set_recent_window(current.recent_window);
    m.set_recent_loss(current.recent_loss);
    m.set_recent_accuracy(current.recent_accuracy);
  } else {  // every sample since the event is in the current window
    m.set_recent_window(since.count);
    m.set_recent_loss(m.progressive_loss());
    m.set_recent_accuracy(m.progressive_accuracy());
  }
  return m;
}

v1::ModelMetrics LifetimeMetrics(const Lineage& lineage,
                                 const MetricsSummary& current) {
  const v1::ModelMetrics since = MetricsSinceLineage(lineage, current);
  if (lineage.empty()) return since;
  const Sums before = SumsOf(lineage.back().lifetime_metrics());
  const Sums after = SumsOf(since);
  Sums life;
  life.count = before.count + after.count;
  life.loss = before.loss + after.loss;
  life.correct = before.correct + after.correct;
  life.abs = before.abs + after.abs;
  life.sq = before.sq + after.sq;
  life.skipped = before.skipped + after.skipped;
  life.drifts = before.drifts + after.drifts;
  life.last_drift = after.drifts > 0 ? after.last_drift : before.last_drift;
  v1::ModelMetrics m = MetricsOf(life);
  m.set_recent_window(since.recent_window());
  m.set_recent_loss(since.recent_loss());
  m.set_recent_accuracy(since.recent_accuracy());
  return m;
}

}  // namespace streamfit
