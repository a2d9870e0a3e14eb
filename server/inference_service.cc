#include "server/inference_service.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/model/linear_model.h"
#include "core/status_macros.h"
#include "server/inference_tensor.h"
#include "server/proto_convert.h"
#include "server/unary_answer.h"

namespace streamfit {
namespace {

constexpr char kServerName[] = "streamfit";
constexpr char kServerVersion[] = "1.0.0";
constexpr char kPlatform[] = "streamfit_linear";

// A requested version ("" means any) as a minimum sample count.
absl::StatusOr<uint64_t> MinVersion(const std::string& version,
                                    const char* field) {
  uint64_t v = 0;
  if (!version.empty() && !absl::SimpleAtoi(version, &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": '", version,
                     "' is not a version (a number of samples learned)"));
  }
  return v;
}

bool HasProbabilities(const ModelConfig& config) {
  return config.task == Task::kMulticlass ||
         (config.task == Task::kBinary && config.loss != LossKind::kHinge);
}

uint32_t NumProbabilities(const ModelConfig& config) {
  return config.task == Task::kMulticlass ? config.num_classes : 2;
}

std::vector<std::string> OutputNames(const ModelConfig& config) {
  std::vector<std::string> names = {kInferPredictionsName};
  if (HasProbabilities(config)) names.push_back(kInferProbabilitiesName);
  return names;
}

// Answers `request` from one published state.
absl::Status InferFromState(const std::string& model_name,
                            const LinearModel& state,
                            const inference::ModelInferRequest& request,
                            inference::ModelInferResponse* response) {
  const ModelConfig& config = state.config();
  if (config.num_features == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model '", model_name,
        "' has no dense features (only hashed named or sparse ones), which an "
        "input tensor cannot carry; use streamfit.v1.Learner/Predict"));
  }
  ASSIGN_OR_RETURN(InferRows rows,
                   DecodeInferRows(request, config.num_features));
  ASSIGN_OR_RETURN(std::vector<std::string> outputs,
                   RequestedOutputs(request, OutputNames(config)));
  const size_t n = rows.count;
  const uint32_t classes = NumProbabilities(config);
  std::vector<double> predictions(n);
  std::vector<double> probabilities;
  if (HasProbabilities(config)) probabilities.resize(n * classes);
  ScoreBuffers buffers;  // reused: no allocation per row
  Prediction p;
  for (size_t i = 0; i < n; ++i) {
    const ExampleView row{
        {rows.values.data() + i * config.num_features, config.num_features},
        {},
        {},
        {}};
    state.Predict(row, buffers, p);
    predictions[i] = p.value;
    if (config.task == Task::kMulticlass) {
      std::copy(p.scores.begin(), p.scores.end(),
                probabilities.begin() + i * classes);
    } else if (!probabilities.empty()) {
      probabilities[i * 2] = 1 - p.value;
      probabilities[i * 2 + 1] = p.value;
    }
  }
  response->set_model_name(model_name);
  response->set_model_version(absl::StrCat(state.version()));
  response->set_id(request.id());
  const auto rows_dim = static_cast<int64_t>(n);
  for (const std::string& name : outputs) {
    if (name == kInferPredictionsName) {
      AppendFp64Output(name, {rows_dim}, predictions, rows.raw, response);
    } else {
      AppendFp64Output(name, {rows_dim, static_cast<int64_t>(classes)},
                       probabilities, rows.raw, response);
    }
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* InferenceService::ServerLive(
    grpc::CallbackServerContext* context, const inference::ServerLiveRequest*,
    inference::ServerLiveResponse* response) {
  response->set_live(true);
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* InferenceService::ServerReady(
    grpc::CallbackServerContext* context, const inference::ServerReadyRequest*,
    inference::ServerReadyResponse* response) {
  response->set_ready(true);
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* InferenceService::ModelReady(
    grpc::CallbackServerContext* context,
    const inference::ModelReadyRequest* request,
    inference::ModelReadyResponse* response) {
  absl::StatusOr<uint64_t> version = MinVersion(request->version(), "version");
  if (!version.ok()) return FinishWith(context, version.status());
  absl::StatusOr<std::shared_ptr<LiveModel>> model =
      registry_->Get(request->name());
  response->set_ready(model.ok() &&
                      (*model)->learner.Current()->version() >= *version);
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* InferenceService::ServerMetadata(
    grpc::CallbackServerContext* context,
    const inference::ServerMetadataRequest*,
    inference::ServerMetadataResponse* response) {
  response->set_name(kServerName);
  response->set_version(kServerVersion);
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* InferenceService::ModelMetadata(
    grpc::CallbackServerContext* context,
    const inference::ModelMetadataRequest* request,
    inference::ModelMetadataResponse* response) {
  absl::StatusOr<uint64_t> version = MinVersion(request->version(), "version");
  if (!version.ok()) return FinishWith(context, version.status());
  absl::StatusOr<std::shared_ptr<LiveModel>> model =
      registry_->Get(request->name());
  if (!model.ok()) return FinishWith(context, model.status());
  std::shared_ptr<const LinearModel> state = (*model)->learner.Current();
  const ModelConfig& config = state->config();
  response->set_name((*model)->name);
  response->add_versions(absl::StrCat(state->version()));
  response->set_platform(kPlatform);
  if (config.num_features > 0) {
    auto* input = response->add_inputs();
    input->set_name(kInferInputName);
    input->set_datatype("FP32");
    input->add_shape(-1);
    input->add_shape(config.num_features);
  }
  auto* predictions = response->add_outputs();
  predictions->set_name(kInferPredictionsName);
  predictions->set_datatype("FP64");
  predictions->add_shape(-1);
  if (HasProbabilities(config)) {
    auto* probabilities = response->add_outputs();
    probabilities->set_name(kInferProbabilitiesName);
    probabilities->set_datatype("FP64");
    probabilities->add_shape(-1);
    probabilities->add_shape(NumProbabilities(config));
  }
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* InferenceService::ModelInfer(
    grpc::CallbackServerContext* context,
    const inference::ModelInferRequest* request,
    inference::ModelInferResponse* response) {
  absl::StatusOr<uint64_t> version =
      MinVersion(request->model_version(), "model_version");
  if (!version.ok()) return FinishWith(context, version.status());
  absl::StatusOr<std::shared_ptr<LiveModel>> model =
      registry_->Get(request->model_name());
  if (!model.ok()) return FinishWith(context, model.status());
  const std::string& name = (*model)->name;
  return AnswerAtVersion(context, *std::move(model), *version, "model_version",
                         [&name, request, response](const LinearModel& state) {
                           return InferFromState(name, state, *request,
                                                 response);
                         });
}

}  // namespace streamfit
