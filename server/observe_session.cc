#include "server/observe_session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "server/proto_convert.h"

namespace streamfit {
namespace {

// The samples an Observe request carries (valid or not).
uint64_t SamplesIn(const v1::ObserveRequest& request) {
  return request.examples_size() + request.dense_batch().labels_size();
}

// A request as a batch for the call's model: the first request must name
// the model (which binds `model`, even if it is failed, so refusals are
// counted), later ones may only repeat that name; then the whole request is
// validated and converted.
absl::StatusOr<ExampleBatch> ReadBatch(const ModelRegistry& registry,
                                       const v1::ObserveRequest& request,
                                       std::shared_ptr<LiveModel>& model) {
  if (model == nullptr) {
    absl::StatusOr<std::shared_ptr<LiveModel>> found =
        registry.Get(request.model());
    if (!found.ok()) return found.status();
    model = *std::move(found);
    RETURN_IF_ERROR(model->CheckNotFailed());
  } else if (!request.model().empty() && request.model() != model->name) {
    return absl::InvalidArgumentError(
        absl::StrCat("a stream observes one model: '", model->name, "', not '",
                     request.model(), "'"));
  }
  return ToExampleBatch(request, model->config);
}

}  // namespace

ObserveSession::ObserveSession(const ModelRegistry* registry, Answer answer,
                               v1::ObserveResponse* reply, Act act,
                               const kafka::Catalogue* kafka)
    : registry_(registry),
      kafka_(kafka),
      answer_(answer),
      method_(answer == Answer::kOnce ? Method::kObserve
                                      : Method::kObserveStream),
      reply_(reply),
      act_(std::move(act)) {}

ObserveActions ObserveSession::OnRequest(const v1::ObserveRequest& request) {
  absl::StatusOr<ExampleBatch> batch = ReadBatch(*registry_, request, model_);
  Step step;
  if (!batch.ok()) {
    CountRefusal(batch.status(), SamplesIn(request));
    {
      absl::MutexLock lock(&mu_);
      Fail(batch.status(), submitted_);
      step = Decide(nullptr, false);
    }
    return Conclude(std::move(step));
  }
  const uint64_t samples = batch->size();
  uint64_t seq;
  {
    absl::MutexLock lock(&mu_);
    if (reads_done_) return {};  // ended by an error while this read was out
    if (samples == 0 && answer_ == Answer::kOnce) {
      return {.read = true};  // nothing to learn or to ack: read on
    }
    seq = submitted_++;
  }
  auto completed = [this, seq, samples](absl::StatusOr<uint64_t> end_version) {
    Completed(seq, samples, std::move(end_version));
  };
  if (kafka_ != nullptr) {
    if (topic_ == nullptr) topic_ = kafka_->Topic(model_->name);
    if (topic_ == nullptr) {
      completed(absl::NotFoundError(
          absl::StrCat("model '", model_->name, "' was deleted")));
      return {};
    }
    topic_->Submit(request, std::move(completed), [this] { Admitted(); });
    return {};
  }
  model_->learner.Submit(*std::move(batch), std::move(completed),
                         [this] { Admitted(); });
  return {};
}

ObserveActions ObserveSession::OnReadsDone() {
  Step step;
  {
    absl::MutexLock lock(&mu_);
    reads_done_ = true;
    step = Decide(nullptr, false);
  }
  return Conclude(std::move(step));
}

ObserveActions ObserveSession::OnAckWritten(bool ok) {
  Step step;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    acks_.pop_front();
    ++written_;
    if (!ok) {  // the client went away
      acks_.clear();
      Fail(absl::CancelledError("the client stopped reading acks"), 0);
    }
    const bool read = ResumeReading();
    step = Decide(NextWrite(), read);
  }
  return Conclude(std::move(step));
}

void ObserveSession::Admitted() {
  Step step;
  {
    absl::MutexLock lock(&mu_);
    read_paused_ = true;
    step = Decide(nullptr, ResumeReading());
  }
  Deliver(std::move(step));
}

void ObserveSession::Completed(uint64_t seq, uint64_t samples,
                               absl::StatusOr<uint64_t> end_version) {
  if (!end_version.ok()) CountRefusal(end_version.status(), samples);
  Step step;
  {
    absl::MutexLock lock(&mu_);
    ++completed_;
    if (!end_version.ok()) {
      Fail(end_version.status(), seq);
    } else if (seq < fail_seq_) {
      accepted_ += samples;
      last_version_ = std::max(last_version_, *end_version);
      if (answer_ == Answer::kEachRequest) {
        v1::ObserveAck& ack = ready_[seq];
        ack.set_accepted(samples);
        ack.set_model_version(*end_version);
        // Completions may come out of order; acks go out in order.
        for (auto it = ready_.begin();
             it != ready_.end() && it->first == next_ack_;
             it = ready_.erase(it)) {
          acks_.push_back(std::move(it->second));
          ++next_ack_;
        }
      }
    }
    step = Decide(NextWrite(), false);
  }
  Deliver(std::move(step));
}

void ObserveSession::CountRefusal(const absl::Status& error, uint64_t samples) {
  if (model_) model_->refusals.Count(method_, error, samples);
}

void ObserveSession::Fail(const absl::Status& error, uint64_t seq) {
  reads_done_ = true;
  if (seq < fail_seq_) {
    fail_seq_ = seq;
    error_ = error;
    ready_.erase(ready_.lower_bound(seq), ready_.end());
  }
}

bool ObserveSession::ResumeReading() {
  if (!read_paused_ || reads_done_) return false;
  if (answer_ == Answer::kEachRequest &&
      submitted_ - written_ >= kMaxUnackedRequests) {
    return false;
  }
  read_paused_ = false;
  return true;
}

const v1::ObserveAck* ObserveSession::NextWrite() {
  if (writing_ || acks_.empty()) return nullptr;
  writing_ = true;
  return &acks_.front();  // stable: deques keep elements in place
}

ObserveSession::Step ObserveSession::Decide(const v1::ObserveAck* write,
                                            bool read) {
  Step step;
  step.actions.write = write;
  step.actions.read = read;
  if (ending_ || !reads_done_ || completed_ < submitted_ || writing_ ||
      !acks_.empty()) {
    return step;
  }
  ending_ = true;
  if (!error_.ok()) {
    step.actions.finish = error_;
  } else if (answer_ == Answer::kEachRequest) {
    step.actions.finish = absl::OkStatus();
  } else if (accepted_ == 0) {
    step.reply = Step::Reply::kNow;
  } else {
    step.reply = Step::Reply::kWhenApplied;
    step.accepted = accepted_;
    step.version = last_version_;
  }
  return step;
}

ObserveActions ObserveSession::Conclude(Step step) {
  switch (step.reply) {
    case Step::Reply::kNone:
      break;
    case Step::Reply::kNow:
      reply_->set_accepted(0);
      reply_->set_model_version(model_ ? model_->learner.Current()->version()
                                       : 0);
      step.actions.finish = absl::OkStatus();
      break;
    case Step::Reply::kWhenApplied:
      model_->learner.WhenVersion(
          step.version,
          [this, accepted = step.accepted, version = step.version](
              absl::StatusOr<std::shared_ptr<const LinearModel>> state) {
            if (state.ok()) {
              reply_->set_accepted(accepted);
              reply_->set_model_version(version);
            }
            act_({.finish = state.status()});
          });
      return {};
  }
  return std::move(step.actions);
}

void ObserveSession::Deliver(Step step) {
  ObserveActions actions = Conclude(std::move(step));
  if (actions.write != nullptr || actions.read || actions.finish.has_value()) {
    act_(std::move(actions));
  }
}

}  // namespace streamfit
