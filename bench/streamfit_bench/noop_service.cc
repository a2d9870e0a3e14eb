#include "bench/streamfit_bench/noop_service.h"

#include <deque>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace streamfit::bench {
namespace {

grpc::ServerUnaryReactor* FinishOk(grpc::CallbackServerContext* context) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

// Counts the examples of a client stream, replies at its end.
class NoopObserveReactor final
    : public grpc::ServerReadReactor<v1::ObserveRequest> {
 public:
  NoopObserveReactor(std::atomic<uint64_t>* samples,
                     v1::ObserveResponse* response)
      : samples_(samples), response_(response) {
    StartRead(&request_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      response_->set_accepted(accepted_);
      response_->set_model_version(samples_->load());
      Finish(grpc::Status::OK);
      return;
    }
    const uint64_t n = NoopLearnerService::CountExamples(request_);
    accepted_ += n;
    samples_->fetch_add(n, std::memory_order_relaxed);
    StartRead(&request_);
  }
  void OnDone() override { delete this; }

 private:
  std::atomic<uint64_t>* const samples_;
  v1::ObserveResponse* const response_;
  v1::ObserveRequest request_;
  uint64_t accepted_ = 0;
};

// Acks every request in order, one write in flight, reading on while fewer
// than kMaxUnwrittenAcks acks wait (the real service's policy).
class NoopObserveStreamReactor final
    : public grpc::ServerBidiReactor<v1::ObserveRequest, v1::ObserveAck> {
 public:
  explicit NoopObserveStreamReactor(std::atomic<uint64_t>* samples)
      : samples_(samples) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    const v1::ObserveAck* write = nullptr;
    bool read_next = false, finish = false;
    {
      absl::MutexLock lock(&mu_);
      if (!ok) {
        reads_done_ = true;
      } else {
        const uint64_t n = NoopLearnerService::CountExamples(request_);
        const uint64_t version =
            samples_->fetch_add(n, std::memory_order_relaxed) + n;
        acks_.emplace_back().set_accepted(n);
        acks_.back().set_model_version(version);
        read_next = acks_.size() < kMaxUnwrittenAcks;
        read_paused_ = !read_next;
      }
      Decide(write, finish);
    }
    Act(read_next, write, finish);
  }

  void OnWriteDone(bool ok) override {
    const v1::ObserveAck* write = nullptr;
    bool read_next = false, finish = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      acks_.pop_front();
      if (!ok) {
        acks_.clear();
        reads_done_ = true;
      }
      if (read_paused_ && !reads_done_) {
        read_paused_ = false;
        read_next = true;
      }
      Decide(write, finish);
    }
    Act(read_next, write, finish);
  }

  void OnDone() override { delete this; }

 private:
  static constexpr size_t kMaxUnwrittenAcks = 1024;

  void Decide(const v1::ObserveAck*& write, bool& finish)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!writing_ && !acks_.empty()) {
      writing_ = true;
      write = &acks_.front();
    }
    if (reads_done_ && !writing_ && acks_.empty() && !finished_) {
      finished_ = true;
      finish = true;
    }
  }
  void Act(bool read_next, const v1::ObserveAck* write, bool finish) {
    if (write != nullptr) StartWrite(write);
    if (read_next) StartRead(&request_);
    if (finish) Finish(grpc::Status::OK);
  }

  std::atomic<uint64_t>* const samples_;
  v1::ObserveRequest request_;
  absl::Mutex mu_;
  std::deque<v1::ObserveAck> acks_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

uint64_t NoopLearnerService::CountExamples(const v1::ObserveRequest& request) {
  const v1::DenseBatch& dense = request.dense_batch();
  return request.examples_size() + static_cast<uint64_t>(dense.labels_size());
}

grpc::ServerUnaryReactor* NoopLearnerService::CreateModel(
    grpc::CallbackServerContext* context, const v1::CreateModelRequest* request,
    v1::ModelInfo* response) {
  response->set_name(request->name());
  *response->mutable_config() = request->config();
  return FinishOk(context);
}

grpc::ServerUnaryReactor* NoopLearnerService::GetModel(
    grpc::CallbackServerContext* context, const v1::GetModelRequest* request,
    v1::ModelInfo* response) {
  response->set_name(request->name());
  response->set_model_version(samples_.load());
  return FinishOk(context);
}

grpc::ServerReadReactor<v1::ObserveRequest>* NoopLearnerService::Observe(
    grpc::CallbackServerContext*, v1::ObserveResponse* response) {
  return new NoopObserveReactor(&samples_, response);
}

grpc::ServerBidiReactor<v1::ObserveRequest, v1::ObserveAck>*
NoopLearnerService::ObserveStream(grpc::CallbackServerContext*) {
  return new NoopObserveStreamReactor(&samples_);
}

grpc::ServerUnaryReactor* NoopLearnerService::Predict(
    grpc::CallbackServerContext* context, const v1::PredictRequest* request,
    v1::PredictResponse* response) {
  const v1::DenseBatch& dense = request->dense_batch();
  const int dense_rows = dense.num_features() == 0
                             ? 0
                             : dense.values_size() / dense.num_features();
  for (int i = 0; i < request->features_size() + dense_rows; ++i) {
    response->add_predictions()->set_value(0);
  }
  return FinishOk(context);
}

}  // namespace streamfit::bench
