#include "server/logging_interceptor.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/auth/caller.h"
#include "server/logging.h"
#include "streamfit/v1/streamfit.pb.h"

namespace streamfit {
namespace {

using grpc::experimental::InterceptionHookPoints;

enum class Action {
  kCreateModel,
  kDeleteModel,
  kRestore,
  kUploadDataset,
  kDeleteDataset,
  kRetrain,
  kCancelRetrainJob
};

struct AuditedMethod {
  absl::string_view method;
  Action action;
  absl::string_view event;
};

constexpr AuditedMethod kAudited[] = {
    {"/streamfit.v1.Learner/CreateModel", Action::kCreateModel, "model.create"},
    {"/streamfit.v1.Learner/DeleteModel", Action::kDeleteModel, "model.delete"},
    {"/streamfit.v1.Learner/Restore", Action::kRestore, "model.restore"},
    {"/streamfit.v1.Learner/UploadDataset", Action::kUploadDataset,
     "dataset.upload"},
    {"/streamfit.v1.Learner/DeleteDataset", Action::kDeleteDataset,
     "dataset.delete"},
    {"/streamfit.v1.Learner/Retrain", Action::kRetrain, "retrain.start"},
    {"/streamfit.v1.Learner/CancelRetrainJob", Action::kCancelRetrainJob,
     "retrain.cancel"},
};

class AuditLogInterceptor final : public grpc::experimental::Interceptor {
 public:
  AuditLogInterceptor(grpc::experimental::ServerRpcInfo* info,
                      const AuditedMethod& method)
      : info_(info), method_(method) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE) &&
        !saw_request_) {
      saw_request_ = true;
      if (const void* m = methods->GetRecvMessage(); m != nullptr) {
        ReadRequest(m);
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      if (const void* m = methods->GetSendMessage(); m != nullptr) {
        ReadResponse(m);
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      Log(methods->GetSendStatus());
    }
    methods->Proceed();
  }

 private:
  void ReadRequest(const void* message) {
    switch (method_.action) {
      case Action::kCreateModel:
        model_ = static_cast<const v1::CreateModelRequest*>(message)->name();
        break;
      case Action::kDeleteModel:
        model_ = static_cast<const v1::DeleteModelRequest*>(message)->name();
        break;
      case Action::kRestore:
        model_ = static_cast<const v1::RestoreRequest*>(message)->model();
        break;
      case Action::kDeleteDataset:
        dataset_ = static_cast<const v1::DeleteDatasetRequest*>(message)->id();
        break;
      case Action::kRetrain: {
        const auto* r = static_cast<const v1::RetrainRequest*>(message);
        model_ = r->model();
        dataset_ = r->dataset_id();
        break;
      }
      case Action::kCancelRetrainJob:
        job_ = static_cast<const v1::CancelRetrainJobRequest*>(message)->id();
        break;
      case Action::kUploadDataset:
        break;
    }
  }

  void ReadResponse(const void* message) {
    switch (method_.action) {
      case Action::kCreateModel:
      case Action::kRestore:
        version_ = static_cast<const v1::ModelInfo*>(message)->model_version();
        break;
      case Action::kUploadDataset:
        dataset_ = static_cast<const v1::DatasetInfo*>(message)->id();
        break;
      case Action::kRetrain:
      case Action::kCancelRetrainJob: {
        const auto* job = static_cast<const v1::RetrainJob*>(message);
        job_ = job->id();
        if (model_.empty()) model_ = job->request().model();
        break;
      }
      case Action::kDeleteModel:
      case Action::kDeleteDataset:
        break;
    }
  }

  void Log(const grpc::Status& status) {
    const auth::Caller caller = auth::CallerOf(*info_->server_context());
    const std::string code = absl::StatusCodeToString(
        static_cast<absl::StatusCode>(status.error_code()));
    const std::string message =
        status.ok() ? absl::StrCat(method_.event, " by ", caller.peer)
                    : absl::StrCat(method_.event, " by ", caller.peer,
                                   " failed: ", status.error_message());
    const logging::Level level =
        status.ok() ? logging::Level::kInfo : logging::Level::kWarning;
    logging::Event(level, method_.event, message,
                   {{"code", code},
                    {"model", model_},
                    {"dataset", dataset_},
                    {"job", job_},
                    {"version", version_},
                    {"peer", caller.peer},
                    {"principal", caller.name},
                    {"role", caller.role}});
  }

  grpc::experimental::ServerRpcInfo* const info_;
  const AuditedMethod& method_;
  bool saw_request_ = false;
  std::string model_;
  std::string dataset_;
  std::string job_;
  uint64_t version_ = 0;
};

}  // namespace

grpc::experimental::Interceptor*
AuditLogInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  const absl::string_view method = info->method();
  for (const AuditedMethod& audited : kAudited) {
    if (audited.method == method) return new AuditLogInterceptor(info, audited);
  }
  return nullptr;
}

}  // namespace streamfit
