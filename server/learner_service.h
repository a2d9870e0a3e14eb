// The streamfit.v1.Learner gRPC service: translates requests into calls on
// the model registry and the models' learners, and their results back.
#ifndef STREAMFIT_SERVER_LEARNER_SERVICE_H_
#define STREAMFIT_SERVER_LEARNER_SERVICE_H_

#include <functional>
#include <utility>

#include "server/dataset_store.h"
#include "server/file_worker.h"
#include "server/kafka/catalogue.h"
#include "server/model_events.h"
#include "server/model_registry.h"
#include "server/model_store.h"
#include "server/retrain_jobs.h"
#include "streamfit/v1/streamfit.grpc.pb.h"

namespace streamfit {

// Per-request limits of the service (a request over one gets
// RESOURCE_EXHAUSTED naming it).
struct ServiceLimits {
  uint64_t max_predict_rows = 1 << 20;  // inputs of one Predict
};

// Callback-API service; every handler returns without blocking: work that
// waits on the disk (Create, Delete, Restore, snapshot files, dataset
// uploads and deletes, retrain submissions and cancels) runs on the
// service's FileWorker, which finishes the call. Thread-safe. `registry`
// (and `store`, if any) must outlive the service.
class LearnerService final : public v1::Learner::CallbackService {
 public:
  explicit LearnerService(ModelRegistry* registry, ModelStore* store = nullptr,
                          ServiceLimits limits = {})
      : registry_(registry), store_(store), limits_(limits) {}

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
  // --- Snapshot, Restore and saved snapshot files (snapshot_service.cc) ---
  grpc::ServerUnaryReactor* Snapshot(grpc::CallbackServerContext* context,
                                     const v1::SnapshotRequest* request,
                                     v1::ModelSnapshot* response) override;
  // Admin rollback: replaces a model's state by a snapshot, durably.
  grpc::ServerUnaryReactor* Restore(grpc::CallbackServerContext* context,
                                    const v1::RestoreRequest* request,
                                    v1::ModelInfo* response) override;
  // Snapshots saved with Snapshot.to_file (FAILED_PRECONDITION without a
  // data directory).
  grpc::ServerUnaryReactor* ListSnapshots(
      grpc::CallbackServerContext* context,
      const v1::ListSnapshotsRequest* request,
      v1::ListSnapshotsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteSnapshot(
      grpc::CallbackServerContext* context,
      const v1::DeleteSnapshotRequest* request,
      v1::DeleteSnapshotResponse* response) override;

  // Kafka mode: models are created and deleted through the catalogue and
  // learn from their topics; Restore and Retrain are refused. `catalogue`
  // outlives the service; set before serving.
  void SetKafka(kafka::Catalogue* catalogue) { kafka_ = catalogue; }
  // Where the server publishes the events of WatchModel it makes (retrain
  // jobs' changes).
  ModelEvents& events() { return events_; }

  // --- Datasets and retraining (retrain_service.cc) ---
  // Both must outlive the service; set before serving. Unset: UNIMPLEMENTED.
  void SetRetrain(DatasetStore* datasets, RetrainJobs* jobs) {
    datasets_ = datasets;
    jobs_ = jobs;
  }
  grpc::ServerReadReactor<v1::UploadDatasetRequest>* UploadDataset(
      grpc::CallbackServerContext* context, v1::DatasetInfo* response) override;
  grpc::ServerUnaryReactor* ListDatasets(
      grpc::CallbackServerContext* context,
      const v1::ListDatasetsRequest* request,
      v1::ListDatasetsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteDataset(
      grpc::CallbackServerContext* context,
      const v1::DeleteDatasetRequest* request,
      v1::DeleteDatasetResponse* response) override;
  grpc::ServerUnaryReactor* Retrain(grpc::CallbackServerContext* context,
                                    const v1::RetrainRequest* request,
                                    v1::RetrainJob* response) override;
  grpc::ServerUnaryReactor* GetRetrainJob(
      grpc::CallbackServerContext* context,
      const v1::GetRetrainJobRequest* request,
      v1::RetrainJob* response) override;
  grpc::ServerWriteReactor<v1::RetrainJob>* WatchRetrainJob(
      grpc::CallbackServerContext* context,
      const v1::GetRetrainJobRequest* request) override;
  grpc::ServerWriteReactor<v1::ModelEvent>* WatchModel(
      grpc::CallbackServerContext* context,
      const v1::WatchModelRequest* request) override;
  grpc::ServerUnaryReactor* CancelRetrainJob(
      grpc::CallbackServerContext* context,
      const v1::CancelRetrainJobRequest* request,
      v1::RetrainJob* response) override;
  grpc::ServerUnaryReactor* ListRetrainJobs(
      grpc::CallbackServerContext* context,
      const v1::ListRetrainJobsRequest* request,
      v1::ListRetrainJobsResponse* response) override;
  grpc::ServerUnaryReactor* MeasureBatchGap(
      grpc::CallbackServerContext* context,
      const v1::MeasureBatchGapRequest* request,
      v1::BatchGap* response) override;

  // --- Champion and challengers (challenger_service.cc) ---
  grpc::ServerUnaryReactor* AddChallenger(
      grpc::CallbackServerContext* context,
      const v1::AddChallengerRequest* request,
      v1::Challenger* response) override;
  grpc::ServerUnaryReactor* ListChallengers(
      grpc::CallbackServerContext* context,
      const v1::ListChallengersRequest* request,
      v1::ListChallengersResponse* response) override;
  grpc::ServerUnaryReactor* PromoteChallenger(
      grpc::CallbackServerContext* context,
      const v1::PromoteChallengerRequest* request,
      v1::ModelInfo* response) override;
  grpc::ServerUnaryReactor* RemoveChallenger(
      grpc::CallbackServerContext* context,
      const v1::RemoveChallengerRequest* request,
      v1::RemoveChallengerResponse* response) override;
  // Makes `promotion` of `model` durable (a checkpoint at its version, then
  // the lineage) and tells the model's watchers; a worker's work.
  absl::Status RecordPromotion(LiveModel& model, const Promotion& promotion);

  // MeasureBatchGap's work (request.model is not read): waits on the disk
  // and replays, so it runs on a worker (the history worker, or the policy
  // runner's); the result is kept as the model's latest.
  absl::Status MeasureGap(LiveModel& model,
                          const v1::MeasureBatchGapRequest& request,
                          v1::BatchGap* response);

 private:
  // The model's published state, config, metrics, freshness and lineage.
  static void FillModelInfo(const LiveModel& model, v1::ModelInfo* info);
  // FillModelInfo, and in Kafka mode the model's place in its topic.
  void DescribeModel(const LiveModel& model, v1::ModelInfo* info) const;
  // The snapshot of `state`, a published state of `model`; in Kafka mode
  // with its place in the model's topic (where learning continues from it).
  void SnapshotOf(const LiveModel& model, const LinearModel& state,
                  v1::ModelSnapshot* snapshot) const;
  absl::Status RestoreModel(const v1::RestoreRequest& request,
                            v1::ModelInfo* response);
  // The model `name` when challengers may change: FAILED_PRECONDITION in
  // Kafka mode (replicas learn from the topic alone) and for a failed model.
  absl::StatusOr<std::shared_ptr<LiveModel>> ModelForChallengers(
      const std::string& name) const;
  absl::Status AddChallengerTo(const v1::AddChallengerRequest& request,
                               v1::Challenger* response);
  // Challenger `name` of `config` started empty at `from_version`, an
  // earlier version of `model`, and caught up off the learner thread with
  // the log's samples until the model is a few thousand samples ahead: the
  // slot for Learner::JoinChallenger.
  absl::StatusOr<ModelSlot> CatchUpChallenger(LiveModel& model,
                                              const std::string& name,
                                              const ModelConfig& config,
                                              uint64_t from_version);
  absl::Status Promote(const v1::PromoteChallengerRequest& request,
                       v1::ModelInfo* response);
  absl::Status RemoveChallengerFrom(const v1::RemoveChallengerRequest& request);
  // The file of saved snapshot `name` (request field `field`);
  // FAILED_PRECONDITION without a store.
  absl::StatusOr<std::string> SavedSnapshotPath(absl::string_view field,
                                                const std::string& name) const;
  // FAILED_PRECONDITION: what needs --data_dir (store_ is null).
  static absl::Status NoDataDirectory();
  // Runs `work` on `worker` and finishes the call with its status.
  static grpc::ServerUnaryReactor* OnWorker(
      FileWorker& worker, grpc::CallbackServerContext* context,
      std::function<absl::Status()> work);
  grpc::ServerUnaryReactor* OnFileWorker(grpc::CallbackServerContext* context,
                                         std::function<absl::Status()> work) {
    return OnWorker(file_worker_, context, std::move(work));
  }
  // The history worker: rebuilds of past states (history_service.cc).
  grpc::ServerUnaryReactor* OnHistoryWorker(
      grpc::CallbackServerContext* context,
      std::function<absl::Status()> work) {
    return OnWorker(history_worker_, context, std::move(work));
  }
  // Predict as the model was at request.at_version (history worker).
  absl::Status PredictInThePast(LiveModel& model,
                                const v1::PredictRequest& request,
                                v1::PredictResponse* response);

  ModelRegistry* const registry_;
  DatasetStore* datasets_ = nullptr;
  RetrainJobs* jobs_ = nullptr;
  ModelStore* const store_;
  kafka::Catalogue* kafka_ = nullptr;
  ModelEvents events_;
  const ServiceLimits limits_;
  // Last: destroyed first, after running the work handed to it (gRPC ends
  // every call, and so hands over no more, before the service goes).
  FileWorker file_worker_{2};
  // Rebuilds of past states, one at a time (history_service.cc).
  FileWorker history_worker_{1};
};

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_LEARNER_SERVICE_H_
