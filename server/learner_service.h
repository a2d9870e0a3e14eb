// The streamfit.v1.Learner gRPC service: translates requests into calls on
// the model registry and the models' learners, and their results back.
#ifndef STREAMFIT_SERVER_LEARNER_SERVICE_H_
#define STREAMFIT_SERVER_LEARNER_SERVICE_H_

#include "server/model_registry.h"
#include "server/model_store.h"
#include "streamfit/v1/streamfit.grpc.pb.h"

namespace streamfit {

// Callback-API service; every handler returns without blocking. Thread-safe.
// `registry` (and `store`, if any) must outlive the service.
class LearnerService final : public v1::Learner::CallbackService {
 public:
  explicit LearnerService(ModelRegistry* registry, ModelStore* store = nullptr)
      : registry_(registry), store_(store) {}

  grpc::ServerUnaryReactor* CreateModel(grpc::CallbackServerContext* context,
                                        const v1::CreateModelRequest* request,
                                        v1::ModelInfo* response) override;
  grpc::ServerUnaryReactor* GetModel(grpc::CallbackServerContext* context,
                                     const v1::GetModelRequest* request,
                                     v1::ModelInfo* response) override;
  grpc::ServerUnaryReactor* ListModels(
      grpc::CallbackServerContext* context,
      const v1::ListModelsRequest* request,
      v1::ListModelsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteModel(
      grpc::CallbackServerContext* context,
      const v1::DeleteModelRequest* request,
      v1::DeleteModelResponse* response) override;
  grpc::ServerReadReactor<v1::ObserveRequest>* Observe(
      grpc::CallbackServerContext* context,
      v1::ObserveResponse* response) override;
  grpc::ServerBidiReactor<v1::ObserveRequest, v1::ObserveAck>* ObserveStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Predict(grpc::CallbackServerContext* context,
                                    const v1::PredictRequest* request,
                                    v1::PredictResponse* response) override;
  grpc::ServerUnaryReactor* Snapshot(grpc::CallbackServerContext* context,
                                     const v1::SnapshotRequest* request,
                                     v1::ModelSnapshot* response) override;
  // Issue 6.
  grpc::ServerUnaryReactor* Restore(grpc::CallbackServerContext* context,
                                    const v1::RestoreRequest* request,
                                    v1::ModelInfo* response) override;

 private:
  ModelRegistry* const registry_;
  ModelStore* const store_;
};

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_LEARNER_SERVICE_H_
