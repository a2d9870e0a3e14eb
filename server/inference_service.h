// The Open Inference Protocol (KServe v2 / Triton gRPC) service
// inference.GRPCInferenceService, served on the same port as streamfit.v1:
// health, metadata and ModelInfer over the registry's live models.
//
// Contract (README "Open Inference Protocol"; tensors: inference_tensor.h):
// - ServerLive / ServerReady: true while the server serves.
// - ModelReady: true if the model exists and, when `version` is given, has
//   reached it; false for an unknown model.
// - ModelMetadata: versions = [the current version]; platform
//   "streamfit_linear"; input "features" FP32 [-1, num_features] (none for a
//   model without dense features); outputs "predictions" FP64 [-1] and, for
//   classifiers with probabilities, "probabilities" FP64 [-1, classes].
// - ModelInfer: the rows predicted by the same LinearModel::Predict as
//   streamfit.v1.Predict, all from one published state; model_version in the
//   response is that state's version. A requested model_version is a minimum
//   (versions count samples learned and only the newest state is kept): the
//   call waits, within its deadline, until the model reaches it. A hashed
//   model's tensor carries its dense features only (no named or sparse
//   features: the same as a v1 Predict that sends only `dense`); a model with
//   no dense features is FAILED_PRECONDITION. NOT_FOUND for an unknown
//   model; INVALID_ARGUMENT naming the field for a malformed request.
//
// Thread-safe; every handler returns without blocking. `registry` must
// outlive the service.
#ifndef STREAMFIT_SERVER_INFERENCE_SERVICE_H_
#define STREAMFIT_SERVER_INFERENCE_SERVICE_H_

#include "inference/grpc_service.grpc.pb.h"
#include "server/model_registry.h"

namespace streamfit {

class InferenceService final
    : public inference::GRPCInferenceService::CallbackService {
 public:
  explicit InferenceService(ModelRegistry* registry) : registry_(registry) {}

  grpc::ServerUnaryReactor* ServerLive(
      grpc::CallbackServerContext* context,
      const inference::ServerLiveRequest* request,
      inference::ServerLiveResponse* response) override;
  grpc::ServerUnaryReactor* ServerReady(
      grpc::CallbackServerContext* context,
      const inference::ServerReadyRequest* request,
      inference::ServerReadyResponse* response) override;
  grpc::ServerUnaryReactor* ModelReady(
      grpc::CallbackServerContext* context,
      const inference::ModelReadyRequest* request,
      inference::ModelReadyResponse* response) override;
  grpc::ServerUnaryReactor* ServerMetadata(
      grpc::CallbackServerContext* context,
      const inference::ServerMetadataRequest* request,
      inference::ServerMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelMetadata(
      grpc::CallbackServerContext* context,
      const inference::ModelMetadataRequest* request,
      inference::ModelMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelInfer(
      grpc::CallbackServerContext* context,
      const inference::ModelInferRequest* request,
      inference::ModelInferResponse* response) override;

 private:
  ModelRegistry* const registry_;
};

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_INFERENCE_SERVICE_H_
