#include "server/model_policies.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/batch_trainer.h"
#include "server/logging.h"

namespace streamfit {

void ModelPolicyRunner::Check() {
  std::map<const LiveModel*, Seen> next;
  for (const std::shared_ptr<LiveModel>& model : registry_->List()) {
    auto it = seen_.find(model.get());
    const bool known = it != seen_.end() && it->second.model.lock() == model;
    Seen seen = known ? std::move(it->second) : Seen{.model = model};
    const std::shared_ptr<const LinearModel> state = model->learner.Current();
    const uint64_t drifts = state->metrics().drifts_detected;
    const uint64_t version = state->version();
    const Lineage lineage = model->GetLineage();
    const int64_t installed_ms = lineage.empty() ? 0 : lineage.back().unix_ms();
    if (!known && !started_) {
      // Recovered at start: what happened before is not new.
      seen.drifts = drifts;
      seen.gap_version = version;
    } else if (!known || installed_ms != seen.installed_ms) {
      // Created, restored, swapped or promoted since: the drifts of the
      // state installed.
      seen.drifts = lineage.empty()
                        ? 0
                        : lineage.back().state_metrics().drifts_detected();
    }
    seen.installed_ms = installed_ms;
    for (Promotion& promotion : model->learner.TakePromotions()) {
      worker_.Run([this, model, promotion = std::move(promotion)] {
        const absl::Status recorded =
            service_->RecordPromotion(*model, promotion);
        if (!recorded.ok()) {
          logging::Error(
              "model.promotion_failed",
              absl::StrCat("model '", model->name, "': ", recorded.message()),
              {{"model", model->name}});
          return;
        }
        logging::Info(
            "model.promoted",
            absl::StrFormat("model '%s': challenger '%s' promoted at version "
                            "%d (confidence %.4f over %d samples)",
                            model->name, promotion.name, promotion.version,
                            promotion.comparison.confidence,
                            promotion.comparison.window_samples),
            {{"model", model->name},
             {"challenger", promotion.name},
             {"version", promotion.version}});
      });
    }
    const ModelPolicies& policies = model->config.policies;
    if (drifts > seen.drifts && !seen.busy->load()) {
      seen.drifts = drifts;
      if (model->learner.Current()->config().drift_policy ==
          DriftPolicy::kRetrain) {
        seen.busy->store(true);
        worker_.Run([this, model, busy = seen.busy, version] {
          StartRetrain(model, absl::StrCat("a drift at version ", version));
          busy->store(false);
        });
      }
    }
    if (policies.batch_gap_every > 0 &&
        version >= seen.gap_version + policies.batch_gap_every &&
        !seen.busy->load()) {
      seen.gap_version = version;
      seen.busy->store(true);
      worker_.Run([this, model, busy = seen.busy] {
        v1::MeasureBatchGapRequest request;
        request.set_window(model->config.policies.batch_gap_window);
        v1::BatchGap gap;
        const absl::Status measured =
            service_->MeasureGap(*model, request, &gap);
        const double threshold = model->config.policies.batch_gap_retrain_ratio;
        if (!measured.ok()) {
          logging::Error("policy.gap_failed",
                         absl::StrCat("gap of model '", model->name,
                                      "': ", measured.message()),
                         {{"model", model->name}});
        } else if (threshold > 0 && gap.ratio() >= threshold) {
          StartRetrain(model, absl::StrFormat("a gap of %.3gx (at least %.3gx)",
                                              gap.ratio(), threshold));
        }
        busy->store(false);
      });
    }
    next.emplace(model.get(), std::move(seen));
  }
  seen_ = std::move(next);
  started_ = true;
}

void ModelPolicyRunner::StartRetrain(std::shared_ptr<LiveModel> model,
                                     std::string reason) {
  const ModelPolicies& policies = model->config.policies;
  v1::RetrainRequest request;
  request.set_model(model->name);
  if (policies.retrain_dataset.empty()) {
    request.set_recent_samples(policies.retrain_samples);
  } else {
    request.set_dataset_id(policies.retrain_dataset);
  }
  request.set_algorithm(
      std::string(FitAlgorithmName(OptimumAlgorithm(model->config.task))));
  request.set_holdout_fraction(0.2);
  request.set_swap_policy(v1::SWAP_IF_BETTER);
  const absl::StatusOr<v1::RetrainJob> job = jobs_->Submit(request);
  if (!job.ok()) {
    // One job per model at a time: the policy waits for the next trigger.
    if (absl::StrContains(job.status().message(), "already has")) return;
    logging::Error(
        "policy.retrain_failed",
        absl::StrCat("policy retrain of model '", model->name, "' after ",
                     reason, ": ", job.status().message()),
        {{"model", model->name}});
    return;
  }
  logging::Info("policy.retrain",
                absl::StrCat("model '", model->name, "': started retrain job ",
                             job->id(), " after ", reason),
                {{"model", model->name}, {"job", job->id()}});
}

}  // namespace streamfit
