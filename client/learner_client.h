// LearnerClient: a blocking C++ client for the streamfit.v1.Learner service.
//
// Each method makes one RPC and returns its result or the RPC's status
// converted to absl::Status with the same code and message (for example
// NOT_FOUND "model 'x' not found"). Unary calls carry a deadline of
// `LearnerClientOptions::timeout`; Observe streams have none, as they last as
// long as the data does.
//
// Thread safety: a LearnerClient may be used from many threads at once; each
// call has its own gRPC context.
#ifndef STREAMFIT_CLIENT_LEARNER_CLIENT_H_
#define STREAMFIT_CLIENT_LEARNER_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "streamfit/v1/streamfit.grpc.pb.h"

namespace streamfit {

struct LearnerClientOptions {
  // Deadline of each unary call.
  absl::Duration timeout = absl::Seconds(30);
};

class LearnerClient {
 public:
  using Options = LearnerClientOptions;

  // Called after each Observe message is handed to gRPC with the number of
  // examples sent so far on the stream.
  using ProgressCallback = std::function<void(uint64_t examples_sent)>;

  // Uses `channel`, which may be shared with other clients.
  explicit LearnerClient(std::shared_ptr<grpc::Channel> channel,
                         Options options = {});
  // Connects to `address` ("host:port") without TLS. Connection errors show
  // up on the first call as UNAVAILABLE.
  static std::unique_ptr<LearnerClient> Connect(const std::string& address,
                                                Options options = {});

  absl::StatusOr<v1::ModelInfo> CreateModel(const std::string& name,
                                            const v1::ModelConfig& config);
  absl::StatusOr<v1::ModelInfo> GetModel(const std::string& name);
  absl::StatusOr<std::vector<v1::ModelInfo>> ListModels();
  absl::Status DeleteModel(const std::string& name);

  // Streams `examples` to model `name` in messages of at most `batch_size`
  // (>= 1) examples; with no examples, one empty message names the model.
  // All writes but the last carry a buffer hint, so gRPC may coalesce them. If
  // the server rejects a message, the stream ends with its status (messages
  // before it stay applied). `on_progress` may be null.
  absl::StatusOr<v1::ObserveResponse> Observe(
      const std::string& name, std::span<const v1::Example> examples,
      size_t batch_size, const ProgressCallback& on_progress = nullptr);

  // Produces the next request of an ObserveStream into `batch`; false when
  // there are no more.
  using NextDenseBatch = std::function<absl::StatusOr<bool>(v1::DenseBatch&)>;
  // Called after each ack with the examples acked so far and the ack.
  using AckCallback =
      std::function<void(uint64_t acked, const v1::ObserveAck&)>;
  struct StreamResult {
    uint64_t acked = 0;          // examples the server acked
    uint64_t model_version = 0;  // after the last acked example
    absl::Status status;         // the stream's or `next`'s first error, if any
  };
  // Streams the batches `next` produces to model `name` over ObserveStream,
  // at most `max_in_flight` (>= 1) unacknowledged. On an error from `next` no
  // more requests are sent, the acks of those sent are awaited, and the
  // error is returned in `status` with what was acked before it.
  StreamResult ObserveStream(const std::string& name,
                             const NextDenseBatch& next, size_t max_in_flight,
                             const AckCallback& on_ack = nullptr);

  absl::StatusOr<v1::PredictResponse> Predict(
      const v1::PredictRequest& request);
  absl::StatusOr<v1::BatchGap> MeasureBatchGap(
      const v1::MeasureBatchGapRequest& request);
  absl::StatusOr<v1::Challenger> AddChallenger(
      const v1::AddChallengerRequest& request);
  absl::StatusOr<v1::ListChallengersResponse> ListChallengers(
      const std::string& model);
  absl::StatusOr<v1::ModelInfo> PromoteChallenger(const std::string& model,
                                                  const std::string& name);
  absl::Status RemoveChallenger(const std::string& model,
                                const std::string& name);
  absl::StatusOr<v1::ModelSnapshot> Snapshot(const std::string& name);
  absl::StatusOr<v1::ModelSnapshot> Snapshot(
      const v1::SnapshotRequest& request);
  // Restore with any RestoreRequest (e.g. snapshot_name).
  absl::StatusOr<v1::ModelInfo> Restore(const v1::RestoreRequest& request);
  absl::StatusOr<v1::ListSnapshotsResponse> ListSnapshots(
      const std::string& model);
  absl::Status DeleteSnapshot(const std::string& name);
  // Replaces the model's state by `snapshot` (admin rollback); one of
  // another shape only with `allow_reshape`.
  absl::StatusOr<v1::ModelInfo> Restore(const std::string& name,
                                        const v1::ModelSnapshot& snapshot,
                                        bool allow_reshape = false);

  // --- Datasets and retraining (retrain_client.cc) ---
  // Streams the file at `path` in chunks of `chunk_bytes`, described by
  // `spec` (its data is ignored; total_bytes is set from the file).
  // `on_progress` (may be null) gets the bytes sent so far.
  absl::StatusOr<v1::DatasetInfo> UploadDataset(
      const std::string& path, v1::UploadDatasetRequest spec,
      size_t chunk_bytes, const ProgressCallback& on_progress = nullptr);
  absl::StatusOr<std::vector<v1::DatasetInfo>> ListDatasets();
  absl::Status DeleteDataset(const std::string& id);
  absl::StatusOr<v1::RetrainJob> Retrain(const v1::RetrainRequest& request);
  absl::StatusOr<v1::RetrainJob> GetRetrainJob(const std::string& id);
  absl::StatusOr<v1::RetrainJob> CancelRetrainJob(const std::string& id);
  absl::StatusOr<std::vector<v1::RetrainJob>> ListRetrainJobs();
  // Calls `on_update` with each state the server streams (no deadline) and
  // returns the last one, once the job ended.
  absl::StatusOr<v1::RetrainJob> WatchRetrainJob(
      const std::string& id,
      const std::function<void(const v1::RetrainJob&)>& on_update);
  // Calls `on_watching` once the server has the watch in place, then
  // `on_event` with each event of the model (no deadline) until the stream
  // ends: NOT_FOUND once the model is deleted.
  absl::Status WatchModel(
      const std::string& model, const std::function<void()>& on_watching,
      const std::function<void(const v1::ModelEvent&)>& on_event);

 private:
  const Options options_;
  const std::unique_ptr<v1::Learner::Stub> stub_;
};

}  // namespace streamfit

#endif  // STREAMFIT_CLIENT_LEARNER_CLIENT_H_
