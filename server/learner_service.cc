#include "server/learner_service.h"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "server/model_lineage.h"
#include "server/proto_convert.h"
#include "server/reactor_handoff.h"
#include "server/unary_answer.h"

namespace streamfit {
namespace {

using Method = metrics::RefusalCounts::Method;

// The samples an Observe message carries (valid or not).
uint64_t SamplesIn(const v1::ObserveRequest& request) {
  return request.examples_size() + request.dense_batch().labels_size();
}

// One message of an Observe stream as a batch for its model: the first
// message must name the model (which binds `model`), later ones may only
// repeat that name; then the whole message is validated and converted.
absl::StatusOr<ExampleBatch> ReadBatch(const ModelRegistry& registry,
                                       const v1::ObserveRequest& request,
                                       std::shared_ptr<LiveModel>& model) {
  if (model == nullptr) {
    absl::StatusOr<std::shared_ptr<LiveModel>> found =
        registry.Get(request.model());
    if (!found.ok()) return found.status();
    model = *std::move(found);  // bound even if failed: refusals count
    RETURN_IF_ERROR(model->CheckNotFailed());
  } else if (!request.model().empty() && request.model() != model->name) {
    return absl::InvalidArgumentError(
        absl::StrCat("a stream observes one model: '", model->name, "', not '",
                     request.model(), "'"));
  }
  return ToExampleBatch(request, model->config);
}

// Reads an Observe stream: validates each message and queues it for the
// model's learner. Reads the next message as soon as one is admitted to the
// learner's queue (backpressure: not before), so the messages of one call
// wait for one group commit together rather than an fsync each. Replies
// once every message is queued (durable, with a sample log) and applied; a
// bad or refused message ends the call with its error (the messages queued
// before it stay applied). Owned by gRPC until OnDone, which comes only
// after every learner callback has run.
class ObserveReactor final
    : public HandedOffReactor<grpc::ServerReadReactor<v1::ObserveRequest>> {
 public:
  ObserveReactor(ModelRegistry* registry, v1::ObserveResponse* response)
      : registry_(registry), response_(response) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    Reacting();
    if (!ok) {  // the client finished sending (or the call was cancelled)
      EndReading(absl::OkStatus());
      return;
    }
    absl::StatusOr<ExampleBatch> batch =
        ReadBatch(*registry_, request_, model_);
    if (!batch.ok()) {
      if (model_) {
        model_->refusals.Count(Method::kObserve, batch.status(),
                               SamplesIn(request_));
      }
      EndReading(batch.status());
      return;
    }
    const uint64_t n = batch->size();
    {
      absl::MutexLock lock(&mu_);
      if (reads_done_) return;  // ended by an error while this read was out
      if (n > 0) ++submitted_;
    }
    if (n == 0) {  // nothing to learn: read on
      StartRead(&request_);
      return;
    }
    model_->learner.Submit(
        *std::move(batch),
        [this, n](absl::StatusOr<uint64_t> end_version) {
          Complete(n, std::move(end_version));
        },
        [this] { Admitted(); });
  }

  void OnDone() override {
    Reacting();
    delete this;
  }

 private:
  // The message just submitted is admitted (or refused): read the next.
  void Admitted() {
    {
      absl::MutexLock lock(&mu_);
      if (reads_done_) return;
    }
    StartRead(&request_);
  }

  // A message of `n` samples is queued (and durable), or refused.
  void Complete(uint64_t n, absl::StatusOr<uint64_t> end_version) {
    bool finish;
    {
      absl::MutexLock lock(&mu_);
      ++completed_;
      if (end_version.ok()) {
        accepted_ += n;
        last_version_ = std::max(last_version_, *end_version);
      } else {
        model_->refusals.Count(Method::kObserve, end_version.status(), n);
        Fail(end_version.status());
      }
      finish = ReadyToFinish();
    }
    if (finish) FinishWhenApplied();
  }

  // No more reads: the client is done, or `error` ends the call.
  void EndReading(const absl::Status& error) {
    bool finish;
    {
      absl::MutexLock lock(&mu_);
      if (error.ok()) {
        reads_done_ = true;
      } else {
        Fail(error);
      }
      finish = ReadyToFinish();
    }
    if (finish) FinishWhenApplied();
  }

  void Fail(const absl::Status& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    reads_done_ = true;
    if (error_.ok()) error_ = error;
  }

  // Whether the call may end now (true once): reading has ended and every
  // learner callback has run.
  bool ReadyToFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finishing_ || !reads_done_ || completed_ < submitted_) return false;
    finishing_ = true;
    return true;
  }

  // Finishes with the first error, or once the last accepted sample is
  // applied. Runs once, after every other reaction but OnDone.
  void FinishWhenApplied() {
    absl::Status error;
    uint64_t accepted, last_version;
    {
      absl::MutexLock lock(&mu_);
      error = error_;
      accepted = accepted_;
      last_version = last_version_;
    }
    if (!error.ok()) {
      Finish(ToGrpcStatus(error));
      return;
    }
    if (accepted == 0) {
      response_->set_accepted(0);
      response_->set_model_version(model_ ? model_->learner.Current()->version()
                                          : 0);
      Finish(grpc::Status::OK);
      return;
    }
    model_->learner.WhenVersion(
        last_version,
        [this, accepted, last_version](
            absl::StatusOr<std::shared_ptr<const LinearModel>> state) {
          if (!state.ok()) {
            Finish(ToGrpcStatus(state.status()));
            return;
          }
          response_->set_accepted(accepted);
          response_->set_model_version(last_version);
          Finish(grpc::Status::OK);
        });
  }

  ModelRegistry* const registry_;
  v1::ObserveResponse* const response_;
  v1::ObserveRequest request_;
  std::shared_ptr<LiveModel> model_;  // set by the first read
  absl::Mutex mu_;
  uint64_t submitted_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t completed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t accepted_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_version_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
};

// Serves ObserveStream: like ObserveReactor, but acks every request, in
// order, once it is queued (and, with a sample log, durable). Reads the next
// request as soon as one is admitted to the learner's queue, so many requests
// can be in flight and wait for one group commit together; stops reading
// while kMaxUnackedRequests requests wait for their acks (a slow disk or a
// slow reader of acks), so memory stays bounded. On a bad or refused request,
// the acks of the requests before it are written first, then the stream ends
// with the error. Owned by gRPC until OnDone, which comes only after every
// learner callback has run.
class ObserveStreamReactor final
    : public HandedOffReactor<
          grpc::ServerBidiReactor<v1::ObserveRequest, v1::ObserveAck>> {
 public:
  explicit ObserveStreamReactor(ModelRegistry* registry) : registry_(registry) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    Reacting();
    if (!ok) {  // the client finished sending (or the call was cancelled)
      EndReading(absl::OkStatus());
      return;
    }
    absl::StatusOr<ExampleBatch> batch =
        ReadBatch(*registry_, request_, model_);
    if (!batch.ok()) {
      if (model_) {
        model_->refusals.Count(Method::kObserveStream, batch.status(),
                               SamplesIn(request_));
      }
      EndReading(batch.status());
      return;
    }
    uint64_t seq;
    {
      absl::MutexLock lock(&mu_);
      if (reads_done_) return;  // ended by an error while this read was out
      seq = submitted_++;
    }
    const uint64_t n = batch->size();
    model_->learner.Submit(
        *std::move(batch),
        [this, seq, n](absl::StatusOr<uint64_t> end_version) {
          Complete(seq, n, std::move(end_version));
        },
        [this] { Admitted(); });
  }

  void OnWriteDone(bool ok) override {
    Reacting();
    bool read_next = false;
    const v1::ObserveAck* next;
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      acks_.pop_front();
      ++written_;
      if (!ok) {  // the client went away
        acks_.clear();
        Fail(absl::CancelledError("the client stopped reading acks"), 0);
      }
      read_next = ResumeReading();
      next = NextWrite();
      finish = FinishStatus();
    }
    Act(read_next, next, finish);
  }

  void OnDone() override {
    Reacting();
    delete this;
  }

 private:
  static constexpr uint64_t kMaxUnackedRequests = 1024;

  // The request just submitted is admitted (or refused): the next may be
  // read, unless too many wait for their acks.
  void Admitted() {
    bool read_next = false;
    {
      absl::MutexLock lock(&mu_);
      read_paused_ = true;
      read_next = ResumeReading();
    }
    Act(read_next, nullptr, std::nullopt);
  }

  // Request `seq` (of `accepted` samples) is queued and durable, or refused.
  void Complete(uint64_t seq, uint64_t accepted,
                absl::StatusOr<uint64_t> end_version) {
    const v1::ObserveAck* next;
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      ++completed_;
      if (!end_version.ok()) {
        model_->refusals.Count(Method::kObserveStream, end_version.status(),
                               accepted);
        Fail(end_version.status(), seq);
      } else if (seq < fail_seq_) {
        v1::ObserveAck& ack = ready_[seq];
        ack.set_accepted(accepted);
        ack.set_model_version(*end_version);
        // Completions may come out of order; acks go out in order.
        for (auto it = ready_.begin();
             it != ready_.end() && it->first == next_ack_;
             it = ready_.erase(it)) {
          acks_.push_back(std::move(it->second));
          ++next_ack_;
        }
      }
      next = NextWrite();
      finish = FinishStatus();
    }
    Act(false, next, finish);
  }

  // No more reads: the client is done, or `error` ends the stream once the
  // acks before it are written.
  void EndReading(const absl::Status& error) {
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      if (error.ok()) {
        reads_done_ = true;
      } else {
        Fail(error, submitted_);
      }
      finish = FinishStatus();
    }
    Act(false, nullptr, finish);
  }

  // Ends reading with `error` at request `seq`: acks from it on are dropped.
  void Fail(const absl::Status& error, uint64_t seq)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    reads_done_ = true;
    if (seq < fail_seq_) {
      fail_seq_ = seq;
      error_ = error;
      ready_.erase(ready_.lower_bound(seq), ready_.end());
    }
  }

  // Whether a paused read may start now.
  bool ResumeReading() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!read_paused_ || reads_done_ ||
        submitted_ - written_ >= kMaxUnackedRequests) {
      return false;
    }
    read_paused_ = false;
    return true;
  }

  // The ack to write next, if no write is in flight.
  const v1::ObserveAck* NextWrite() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || acks_.empty()) return nullptr;
    writing_ = true;
    return &acks_.front();  // stable: deques keep elements in place
  }

  // The final status, once reading has ended, every learner callback has run
  // and every ack due is written.
  std::optional<grpc::Status> FinishStatus()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || !reads_done_ || completed_ < submitted_ || writing_ ||
        !acks_.empty()) {
      return std::nullopt;
    }
    finished_ = true;
    return error_.ok() ? grpc::Status::OK : ToGrpcStatus(error_);
  }

  // Starts operations decided under the lock, outside it.
  void Act(bool read_next, const v1::ObserveAck* write,
           const std::optional<grpc::Status>& finish) {
    if (write != nullptr) StartWrite(write);
    if (read_next) StartRead(&request_);
    if (finish.has_value()) Finish(*finish);
  }

  ModelRegistry* const registry_;
  v1::ObserveRequest request_;  // the read in progress
  std::shared_ptr<LiveModel> model_;

  absl::Mutex mu_;
  // Requests are numbered from 0 in the order read.
  uint64_t submitted_ ABSL_GUARDED_BY(mu_) = 0;  // handed to the learner
  uint64_t completed_ ABSL_GUARDED_BY(mu_) = 0;  // their callbacks have run
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;    // acks written
  uint64_t next_ack_ ABSL_GUARDED_BY(mu_) = 0;   // next request to ack
  // Acks completed ahead of an earlier request's.
  std::map<uint64_t, v1::ObserveAck> ready_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::ObserveAck> acks_ ABSL_GUARDED_BY(mu_);  // front: writing
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // The first failed request (none: the maximum) and its error.
  uint64_t fail_seq_ ABSL_GUARDED_BY(mu_) = UINT64_MAX;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
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
  const Learner::Options& options = model.learner.options();
  v1::Freshness* freshness = info->mutable_freshness();
  freshness->set_publish_every_samples(options.publish_every);
  freshness->set_publish_interval_us(
      absl::ToInt64Microseconds(options.publish_interval));
  freshness->set_admitted_version(model.learner.AdmittedVersion());
  info->set_state(model.failure.empty() ? v1::MODEL_READY : v1::MODEL_FAILED);
  info->set_failure(model.failure);
}

grpc::ServerUnaryReactor* LearnerService::OnFileWorker(
    grpc::CallbackServerContext* context, std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  file_worker_.Run([reactor, work = std::move(work)] {
    reactor->Finish(ToGrpcStatus(work()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* LearnerService::CreateModel(
    grpc::CallbackServerContext* context, const v1::CreateModelRequest* request,
    v1::ModelInfo* response) {
  return OnFileWorker(context, [this, request, response] {
    absl::StatusOr<std::shared_ptr<LiveModel>> model =
        registry_->Create(request->name(), FromProto(request->config()));
    if (model.ok()) {
      FillModelInfo(**model, response);
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
    FillModelInfo(**model, response);
  }
  return FinishWith(context, model.status());
}

grpc::ServerUnaryReactor* LearnerService::ListModels(
    grpc::CallbackServerContext* context, const v1::ListModelsRequest*,
    v1::ListModelsResponse* response) {
  for (const auto& model : registry_->List()) {
    FillModelInfo(*model, response->add_models());
  }
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* LearnerService::DeleteModel(
    grpc::CallbackServerContext* context, const v1::DeleteModelRequest* request,
    v1::DeleteModelResponse*) {
  return OnFileWorker(context, [this, request] {
    absl::Status status = ValidateModelName(request->name());
    if (status.ok()) status = registry_->Delete(request->name());
    return status;
  });
}

grpc::ServerReadReactor<v1::ObserveRequest>* LearnerService::Observe(
    grpc::CallbackServerContext*, v1::ObserveResponse* response) {
  return new ObserveReactor(registry_, response);
}

grpc::ServerBidiReactor<v1::ObserveRequest, v1::ObserveAck>*
LearnerService::ObserveStream(grpc::CallbackServerContext*) {
  return new ObserveStreamReactor(registry_);
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
