// A model's lineage: the events that installed its states (creation, retrain
// swaps, Restores), and the progressive metrics since the last one and over
// the model's life, derived from the bases each event records.
#ifndef STREAMFIT_SERVER_MODEL_LINEAGE_H_
#define STREAMFIT_SERVER_MODEL_LINEAGE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/model/linear_model.h"
#include "core/model/model_slot.h"
#include "core/model/progressive_metrics.h"
#include "streamfit/v1/streamfit.pb.h"

namespace streamfit {

// Oldest first; the last event installed the current state.
using Lineage = std::vector<v1::ModelLineage>;

// The newest events kept; older ones are dropped.
inline constexpr size_t kMaxLineageEvents = 16;

// Where a Restore's snapshot came from.
struct RestoreOrigin {
  std::string snapshot_name;   // a saved snapshot's name; empty: the request's
  std::string snapshot_model;  // the model it was taken of
};

// What a retrain swap installed, and the models' metrics at its version.
struct SwapRecord {
  std::string job_id;
  std::string algorithm;
  std::string dataset_id;
  uint64_t version = 0;     // the version the swap published
  MetricsSummary replaced;  // the live model's, just before the swap
  MetricsSummary adopted;   // the fit's after its replay
  // The state the swap published, with the challengers (checkpointed at
  // its version, so that the states after it can be rebuilt); null: the
  // current one.
  std::shared_ptr<const PublishedSlot> state;
};

// The lineage of a model just created.
Lineage CreatedLineage(int64_t unix_ms);

// `lineage` followed by `event`, whose lifetime_metrics are set to the
// model's lifetime metrics when `current` (the replaced state's metrics) was
// its state; the newest kMaxLineageEvents are kept.
Lineage AppendLineage(const Lineage& lineage, v1::ModelLineage event,
                      const MetricsSummary& current);

// The event of a Restore of `restored` over a model at `previous_version`.
v1::ModelLineage RestoredEvent(const RestoreOrigin& origin,
                               uint64_t restored_version,
                               const MetricsSummary& restored,
                               uint64_t previous_version, int64_t unix_ms);
// The event of a retrain swap.
v1::ModelLineage RetrainedEvent(const SwapRecord& swap, int64_t unix_ms);
// The event of a challenger's promotion.
v1::ModelLineage PromotedEvent(const Promotion& promotion, int64_t unix_ms);

// Progressive metrics of the samples learned since the last event of
// `lineage`, when the current state's metrics are `current`. An empty
// lineage (a model recorded before lineage was kept) counts from zero.
v1::ModelMetrics MetricsSinceLineage(const Lineage& lineage,
                                     const MetricsSummary& current);
// Over the model's life: the last event's lifetime_metrics followed by
// MetricsSinceLineage.
v1::ModelMetrics LifetimeMetrics(const Lineage& lineage,
                                 const MetricsSummary& current);

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_MODEL_LINEAGE_H_
