#include "server/learner_service.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "server/model_lineage.h"
#include "server/observe_session.h"
#include "server/proto_convert.h"
#include "server/reactor_handoff.h"
#include "server/unary_answer.h"

namespace streamfit {
namespace {

using Method = metrics::RefusalCounts::Method;

// Serves Observe: one reply once every request of the call is queued
// (durable, with a sample log) and applied (ObserveSession, kOnce). Owned by
// gRPC until OnDone, which comes only after every learner callback has run.
class ObserveReactor final
    : public HandedOffReactor<grpc::ServerReadReactor<v1::ObserveRequest>> {
 public:
  ObserveReactor(const ModelRegistry* registry, v1::ObserveResponse* response,
                 const kafka::Catalogue* kafka)
      : session_(
            registry, ObserveSession::Answer::kOnce, response,
            [this](ObserveActions actions) { Act(std::move(actions)); },
            kafka) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    Reacting();
    Act(ok ? session_.OnRequest(request_) : session_.OnReadsDone());
  }
  void OnDone() override {
    Reacting();
    delete this;
  }

 private:
  void Act(ObserveActions actions) {
    if (actions.read) StartRead(&request_);
    if (actions.finish.has_value()) Finish(ToGrpcStatus(*actions.finish));
  }

  v1::ObserveRequest request_;  // the read in progress
  ObserveSession session_;
};

// Serves ObserveStream: an ack per request, in order, once it is queued (and,
// with a sample log, durable) (ObserveSession, kEachRequest). Owned by gRPC
// until OnDone, which comes only after every learner callback has run.
class ObserveStreamReactor final
    : public HandedOffReactor<
          grpc::ServerBidiReactor<v1::ObserveRequest, v1::ObserveAck>> {
 public:
  ObserveStreamReactor(const ModelRegistry* registry,
                       const kafka::Catalogue* kafka)
      : session_(
            registry, ObserveSession::Answer::kEachRequest, nullptr,
            [this](ObserveActions actions) { Act(std::move(actions)); },
            kafka) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    Reacting();
    Act(ok ? session_.OnRequest(request_) : session_.OnReadsDone());
  }
  void OnWriteDone(bool ok) override {
    Reacting();
    Act(session_.OnAckWritten(ok));
  }
  void OnDone() override {
    Reacting();
    delete this;
  }

 private:
  void Act(ObserveActions actions) {
    if (actions.write != nullptr) StartWrite(actions.write);
    if (actions.read) StartRead(&request_);
    if (actions.finish.has_value()) Finish(ToGrpcStatus(*actions.finish));
  }

  v1::ObserveRequest request_;  // the read in progress
  ObserveSession session_;
};

}  // namespace

// The model's published state, config, metrics, freshness and lineage.
void LearnerService::FillModelInfo(const LiveModel& model,
                                   v1::ModelInfo* info) {
  const Lineage lineage = model.GetLineage();
  const std::shared_ptr<const LinearModel> state = model.learner.Current();
  ToModelInfo(model.name, *state, info);
  info->mutable_lineage()->Assign(lineage.begin(), lineage.end());
  const MetricsSummary metrics = state->metrics();
  *info->mutable_metrics_since_lineage() =
      MetricsSinceLineage(lineage, metrics);
  *info->mutable_lifetime_metrics() = LifetimeMetrics(lineage, metrics);
  if (std::optional<v1::BatchGap> gap = model.GetBatchGap()) {
    *info->mutable_batch_gap() = *std::move(gap);
  }
  if (const std::shared_ptr<const PublishedSlot> slot =
          model.learner.CurrentSlot()) {
    ToProto(*slot, info->mutable_challengers(),
            info->mutable_dropped_challengers());
  }
  const Learner::Options& options = model.learner.options();
  v1::Freshness* freshness = info->mutable_freshness();
  freshness->set_publish_every_samples(options.publish_every);
  freshness->set_publish_interval_us(
      absl::ToInt64Microseconds(options.publish_interval));
  freshness->set_admitted_version(model.learner.AdmittedVersion());
  info->set_state(model.failure.empty() ? v1::MODEL_READY : v1::MODEL_FAILED);
  info->set_failure(model.failure);
}

void LearnerService::DescribeModel(const LiveModel& model,
                                   v1::ModelInfo* info) const {
  FillModelInfo(model, info);
  if (kafka_ == nullptr) return;
  if (const std::shared_ptr<kafka::ModelTopic> topic =
          kafka_->Topic(model.name);
      topic != nullptr) {
    *info->mutable_kafka() = topic->Position();
  }
}

grpc::ServerUnaryReactor* LearnerService::OnWorker(
    FileWorker& worker, grpc::CallbackServerContext* context,
    std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  worker.Run([reactor, work = std::move(work)] {
    reactor->Finish(ToGrpcStatus(work()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* LearnerService::CreateModel(
    grpc::CallbackServerContext* context, const v1::CreateModelRequest* request,
    v1::ModelInfo* response) {
  return OnFileWorker(context, [this, request, response] {
    const ModelConfig config = FromProto(request->config());
    absl::StatusOr<std::shared_ptr<LiveModel>> model =
        kafka_ != nullptr ? kafka_->Create(request->name(), config)
                          : registry_->Create(request->name(), config);
    if (model.ok()) {
      DescribeModel(**model, response);
    }
    return model.status();
  });
}

grpc::ServerUnaryReactor* LearnerService::GetModel(
    grpc::CallbackServerContext* context, const v1::GetModelRequest* request,
    v1::ModelInfo* response) {
  absl::StatusOr<std::shared_ptr<LiveModel>> model =
      registry_->Get(request->name());
  if (model.ok()) {
    DescribeModel(**model, response);
  }
  return FinishWith(context, model.status());
}

grpc::ServerUnaryReactor* LearnerService::ListModels(
    grpc::CallbackServerContext* context, const v1::ListModelsRequest*,
    v1::ListModelsResponse* response) {
  for (const auto& model : registry_->List()) {
    DescribeModel(*model, response->add_models());
  }
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* LearnerService::DeleteModel(
    grpc::CallbackServerContext* context, const v1::DeleteModelRequest* request,
    v1::DeleteModelResponse*) {
  return OnFileWorker(context, [this, request] {
    absl::Status status = ValidateModelName(request->name());
    if (status.ok()) {
      status = kafka_ != nullptr ? kafka_->Delete(request->name())
                                 : registry_->Delete(request->name());
    }
    return status;
  });
}

grpc::ServerReadReactor<v1::ObserveRequest>* LearnerService::Observe(
    grpc::CallbackServerContext*, v1::ObserveResponse* response) {
  return new ObserveReactor(registry_, response, kafka_);
}

grpc::ServerBidiReactor<v1::ObserveRequest, v1::ObserveAck>*
LearnerService::ObserveStream(grpc::CallbackServerContext*) {
  return new ObserveStreamReactor(registry_, kafka_);
}

grpc::ServerUnaryReactor* LearnerService::Predict(
    grpc::CallbackServerContext* context, const v1::PredictRequest* request,
    v1::PredictResponse* response) {
  const uint64_t rows = static_cast<uint64_t>(request->features_size()) +
                        (request->dense_batch().num_features() == 0
                             ? 0
                             : request->dense_batch().values_size() /
                                   request->dense_batch().num_features());
  if (rows > limits_.max_predict_rows) {
    const absl::Status refused = absl::ResourceExhaustedError(absl::StrCat(
        "a Predict of ", rows, " inputs is over the server's limit of ",
        limits_.max_predict_rows, " (--max_predict_rows)"));
    if (auto model = registry_->Get(request->model()); model.ok()) {
      (*model)->refusals.Count(Method::kPredict, refused, 0);
    }
    return FinishWith(context, refused);
  }
  absl::StatusOr<std::shared_ptr<LiveModel>> model =
      registry_->Get(request->model());
  if (!model.ok()) return FinishWith(context, model.status());
  metrics::RefusalCounts& refusals = (*model)->refusals;
  if (request->has_at_version()) {
    return OnHistoryWorker(
        context, [this, model = *std::move(model), request, response] {
          absl::Status status = PredictInThePast(*model, *request, response);
          if (!status.ok()) model->refusals.Count(Method::kPredict, status, 0);
          return status;
        });
  }
  return AnswerAtVersion(
      context, *std::move(model), request->min_version(), "version",
      [request, response](const LinearModel& state) {
        return PredictFromState(state, *request, response);
      },
      [&refusals](const absl::Status& error) {
        refusals.Count(Method::kPredict, error, 0);
      });
}

}  // namespace streamfit
