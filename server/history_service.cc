// The RPCs of LearnerService that look back at a model's past, rebuilt from
// its data directory: Predict with at_version, and MeasureBatchGap. Their
// disk and replay work runs on the history worker, one call at a time, so
// it never holds up the file worker or a gRPC thread.
#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/status_macros.h"
#include "server/learner_service.h"
#include "server/model_store.h"
#include "server/proto_convert.h"
#include "server/unary_answer.h"

namespace streamfit {

absl::Status LearnerService::PredictInThePast(LiveModel& model,
                                              const v1::PredictRequest& request,
                                              v1::PredictResponse* response) {
  const uint64_t version = request.at_version();
  const std::shared_ptr<const LinearModel> current = model.learner.Current();
  if (version > current->version()) {
    return absl::OutOfRangeError(
        absl::StrCat("at_version ", version, " has not been reached: model '",
                     model.name, "' is at version ", current->version()));
  }
  if (version == current->version()) {
    return PredictFromState(*current, request, response);
  }
  if (store_ == nullptr) return NoDataDirectory();
  ASSIGN_OR_RETURN(const LinearModel past, store_->PastState(model, version));
  return PredictFromState(past, request, response);
}

absl::Status LearnerService::MeasureGap(
    LiveModel& model, const v1::MeasureBatchGapRequest& request,
    v1::BatchGap* response) {
  if (store_ == nullptr) return NoDataDirectory();
  FitAlgorithm algorithm = OptimumAlgorithm(model.config.task);
  if (!request.algorithm().empty()) {
    ASSIGN_OR_RETURN(algorithm, ParseFitAlgorithm(request.algorithm()));
  }
  if (algorithm == FitAlgorithm::kMinibatchSgd) {
    return absl::InvalidArgumentError(
        "the batch optimum is fitted by least_squares, lbfgs or "
        "full_batch_gd");
  }
  RETURN_IF_ERROR(CheckFitsTask(algorithm, model.config.task));
  const uint64_t to = model.learner.Current()->version();
  const uint64_t window =
      request.window() == 0 ? kDefaultRecentSamples : request.window();
  // A retrain swap or a Restore replaced the state without a sample, so the
  // log replays no further back than the newest of them.
  const Lineage lineage = model.GetLineage();
  const uint64_t installed =
      lineage.empty() ? 0 : lineage.back().model_version();
  const uint64_t from = std::max(to - std::min(to, window), installed);
  if (from >= to) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model '", model.name, "' has learned no sample since version ", to,
        " (its creation, last retrain swap or Restore)"));
  }
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(const OnlineBatchGap gap,
                   store_->MeasureGap(model, from, to, algorithm));
  response->set_from_version(gap.from_version);
  response->set_to_version(gap.to_version);
  response->set_online_loss(gap.online_loss);
  response->set_batch_loss(gap.batch_loss);
  response->set_gap(gap.online_loss - gap.batch_loss);
  response->set_ratio(gap.batch_loss > 0 ? gap.online_loss / gap.batch_loss
                                         : 0);
  response->set_algorithm(std::string(FitAlgorithmName(gap.algorithm)));
  response->set_unix_ms(absl::ToUnixMillis(absl::Now()));
  response->set_seconds(absl::ToDoubleSeconds(absl::Now() - start));
  model.SetBatchGap(*response);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* LearnerService::MeasureBatchGap(
    grpc::CallbackServerContext* context,
    const v1::MeasureBatchGapRequest* request, v1::BatchGap* response) {
  absl::StatusOr<std::shared_ptr<LiveModel>> model =
      registry_->Get(request->model());
  if (!model.ok()) return FinishWith(context, model.status());
  return OnHistoryWorker(context,
                         [this, model = *std::move(model), request, response] {
                           return MeasureGap(*model, *request, response);
                         });
}

}  // namespace streamfit
