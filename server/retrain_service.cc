// The dataset and retrain RPCs of LearnerService.
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/learner_service.h"
#include "server/proto_convert.h"
#include "server/reactor_handoff.h"

namespace streamfit {
namespace {

grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* context,
                                const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

absl::Status Unimplemented() {
  return absl::UnimplementedError("this server has no dataset store");
}

// Receives an upload: chunks go to a temporary file as they arrive; when the
// client is done, the store checks, parses and publishes it. All file work
// runs on the file worker, one step at a time (the next read starts once a
// chunk is written, so a slow disk slows the client, not a gRPC thread). A
// cancelled or failed upload leaves nothing (the Upload is destroyed, on the
// worker, before the call finishes). Owned by gRPC until OnDone.
class UploadReactor final
    : public HandedOffReactor<
          grpc::ServerReadReactor<v1::UploadDatasetRequest>> {
 public:
  UploadReactor(grpc::CallbackServerContext* context, DatasetStore* store,
                FileWorker* worker, v1::DatasetInfo* response)
      : context_(context), store_(store), worker_(worker), response_(response) {
    worker_->Run([this] {
      absl::StatusOr<std::unique_ptr<DatasetStore::Upload>> upload =
          store_->BeginUpload();
      if (!upload.ok()) {
        Finish(ToGrpcStatus(upload.status()));
        return;
      }
      upload_ = *std::move(upload);
      StartRead(&request_);
    });
  }

  void OnReadDone(bool ok) override {
    Reacting();
    if (!ok) {
      if (context_->IsCancelled()) {
        End(absl::CancelledError("upload cancelled"));
      } else if (!has_spec_) {
        End(absl::InvalidArgumentError("the upload sent no message"));
      } else {
        worker_->Run([this] {
          absl::StatusOr<v1::DatasetInfo> info = upload_->Finish(spec_);
          upload_.reset();  // removes the file unless it was published
          if (info.ok()) *response_ = *std::move(info);
          Finish(ToGrpcStatus(info.status()));
        });
      }
      return;
    }
    if (!has_spec_) {
      has_spec_ = true;
      spec_ = request_;
      spec_.clear_data();
      if (absl::Status s = ValidateUploadSpec(spec_); !s.ok()) {
        End(s);
        return;
      }
    }
    worker_->Run([this] {
      if (absl::Status s = upload_->Append(request_.data()); !s.ok()) {
        upload_.reset();  // removes the partial file now
        Finish(ToGrpcStatus(s));
        return;
      }
      StartRead(&request_);
    });
  }

  void OnDone() override {
    Reacting();
    delete this;
  }

 private:
  // Removes the partial upload on the worker, then finishes with `status`.
  void End(const absl::Status& status) {
    worker_->Run([this, status] {
      upload_.reset();
      Finish(ToGrpcStatus(status));
    });
  }

  grpc::CallbackServerContext* const context_;
  DatasetStore* const store_;
  FileWorker* const worker_;
  v1::DatasetInfo* const response_;
  std::unique_ptr<DatasetStore::Upload> upload_;  // used on the worker only
  v1::UploadDatasetRequest request_;
  v1::UploadDatasetRequest spec_;
  bool has_spec_ = false;
};

// Streams a job's state after each change until it ends. The job list calls
// Update from any thread; writes are coalesced to the latest state. Kept
// alive by shared_ptr (self_ until OnDone) so a late Update is harmless.
class WatchReactor final : public grpc::ServerWriteReactor<v1::RetrainJob>,
                           public std::enable_shared_from_this<WatchReactor> {
 public:
  static grpc::ServerWriteReactor<v1::RetrainJob>* Start(
      RetrainJobs* jobs, const std::string& id) {
    auto reactor = std::shared_ptr<WatchReactor>(new WatchReactor(jobs));
    reactor->self_ = reactor;
    absl::StatusOr<uint64_t> token =
        jobs->Subscribe(id, [weak = std::weak_ptr<WatchReactor>(reactor)](
                                const v1::RetrainJob& job) {
          if (auto r = weak.lock()) r->Update(job);
        });
    if (!token.ok()) {
      reactor->Finish(ToGrpcStatus(token.status()));
    } else {
      absl::MutexLock lock(&reactor->mu_);
      reactor->token_ = *token;
    }
    return reactor.get();
  }

  void OnWriteDone(bool ok) override {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      action = ok ? Next()
                  : Close(grpc::Status(grpc::StatusCode::CANCELLED,
                                       "the watcher left"));
    }
    Act(action);
  }
  void OnCancel() override {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      action = Next();
    }
    Act(action);
  }
  void OnDone() override {
    uint64_t token;
    {
      absl::MutexLock lock(&mu_);
      token = token_;
    }
    if (token != 0) jobs_->Unsubscribe(token);
    self_.reset();
  }

 private:
  // What to start once the lock is released (gRPC may run a reaction
  // inline, which takes the lock again).
  struct Action {
    bool write = false;
    std::optional<grpc::Status> finish;
  };

  explicit WatchReactor(RetrainJobs* jobs) : jobs_(jobs) {}

  static bool Ended(const v1::RetrainJob& job) {
    return job.state() != v1::RETRAIN_PENDING &&
           job.state() != v1::RETRAIN_RUNNING;
  }

  void Update(const v1::RetrainJob& job) {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || last_sent_ended_) return;
      next_ = job;
      action = Next();
    }
    Act(action);
  }

  // Decides the next operation: write the latest state if no write is in
  // flight; finish after the final state is written or on cancellation.
  Action Next() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_) return {};
    if (cancelled_) {
      return Close(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    }
    if (next_.has_value()) {
      writing_job_ = *std::move(next_);  // untouched until OnWriteDone
      next_.reset();
      last_sent_ended_ = Ended(writing_job_);
      writing_ = true;
      return {true, std::nullopt};
    }
    if (last_sent_ended_) return Close(grpc::Status::OK);
    return {};
  }

  Action Close(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return {};
    finished_ = true;
    return {false, status};
  }

  void Act(const Action& action) {
    if (action.write) StartWrite(&writing_job_);
    if (action.finish.has_value()) Finish(*action.finish);
  }

  RetrainJobs* const jobs_;
  absl::Mutex mu_;
  uint64_t token_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<v1::RetrainJob> next_ ABSL_GUARDED_BY(mu_);
  v1::RetrainJob writing_job_;  // written under mu_ only while !writing_
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool last_sent_ended_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<WatchReactor> self_;
};

// A write reactor that fails at once (no job list).
class FailedWriter final : public grpc::ServerWriteReactor<v1::RetrainJob> {
 public:
  explicit FailedWriter(const absl::Status& status) {
    Finish(ToGrpcStatus(status));
  }
  void OnDone() override { delete this; }
};

class FailedReader final
    : public grpc::ServerReadReactor<v1::UploadDatasetRequest> {
 public:
  explicit FailedReader(const absl::Status& status) {
    Finish(ToGrpcStatus(status));
  }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerReadReactor<v1::UploadDatasetRequest>*
LearnerService::UploadDataset(grpc::CallbackServerContext* context,
                              v1::DatasetInfo* response) {
  if (datasets_ == nullptr) return new FailedReader(Unimplemented());
  return new UploadReactor(context, datasets_, &file_worker_, response);
}

grpc::ServerUnaryReactor* LearnerService::ListDatasets(
    grpc::CallbackServerContext* context, const v1::ListDatasetsRequest*,
    v1::ListDatasetsResponse* response) {
  if (datasets_ == nullptr) return Reply(context, Unimplemented());
  return OnFileWorker(context, [this, response] {
    for (auto& info : datasets_->List()) *response->add_datasets() = info;
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* LearnerService::DeleteDataset(
    grpc::CallbackServerContext* context,
    const v1::DeleteDatasetRequest* request, v1::DeleteDatasetResponse*) {
  if (datasets_ == nullptr) return Reply(context, Unimplemented());
  return OnFileWorker(
      context, [this, request] { return datasets_->Delete(request->id()); });
}

grpc::ServerUnaryReactor* LearnerService::Retrain(
    grpc::CallbackServerContext* context, const v1::RetrainRequest* request,
    v1::RetrainJob* response) {
  if (jobs_ == nullptr) return Reply(context, Unimplemented());
  return OnFileWorker(context, [this, request, response] {
    absl::StatusOr<v1::RetrainJob> job = jobs_->Submit(*request);
    if (job.ok()) *response = *std::move(job);
    return job.status();
  });
}

grpc::ServerUnaryReactor* LearnerService::GetRetrainJob(
    grpc::CallbackServerContext* context,
    const v1::GetRetrainJobRequest* request, v1::RetrainJob* response) {
  if (jobs_ == nullptr) return Reply(context, Unimplemented());
  absl::StatusOr<v1::RetrainJob> job = jobs_->Get(request->id());
  if (job.ok()) *response = *std::move(job);
  return Reply(context, job.status());
}

grpc::ServerWriteReactor<v1::RetrainJob>* LearnerService::WatchRetrainJob(
    grpc::CallbackServerContext*, const v1::GetRetrainJobRequest* request) {
  if (jobs_ == nullptr) return new FailedWriter(Unimplemented());
  return WatchReactor::Start(jobs_, request->id());
}

grpc::ServerUnaryReactor* LearnerService::CancelRetrainJob(
    grpc::CallbackServerContext* context,
    const v1::CancelRetrainJobRequest* request, v1::RetrainJob* response) {
  if (jobs_ == nullptr) return Reply(context, Unimplemented());
  return OnFileWorker(context, [this, request, response] {
    absl::StatusOr<v1::RetrainJob> job = jobs_->Cancel(request->id());
    if (job.ok()) *response = *std::move(job);
    return job.status();
  });
}

grpc::ServerUnaryReactor* LearnerService::ListRetrainJobs(
    grpc::CallbackServerContext* context, const v1::ListRetrainJobsRequest*,
    v1::ListRetrainJobsResponse* response) {
  if (jobs_ == nullptr) return Reply(context, Unimplemented());
  for (auto& job : jobs_->List()) *response->add_jobs() = job;
  return Reply(context, absl::OkStatus());
}

}  // namespace streamfit
