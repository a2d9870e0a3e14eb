// Kafka mode: the models of every replica, kept in the catalogue topic
// (<prefix>_models). CreateModel, DeleteModel and Restore write a record there;
// every replica applies the records in offset order, so all of them hold
// the same models, each learning from its own topic (ModelTopic).
#ifndef STREAMFIT_SERVER_KAFKA_CATALOGUE_H_
#define STREAMFIT_SERVER_KAFKA_CATALOGUE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/kafka/kafka_client.h"
#include "server/kafka/model_topic.h"
#include "server/kafka/peer_snapshot.h"
#include "server/kafka/record_parts.h"
#include "server/model_registry.h"

namespace streamfit::kafka {

// A create record for a name that exists, or that fails the checks of
// ModelRegistry::Create, changes nothing (on every replica alike); the call
// that wrote it gets the error. Checkpoints live in
// <data_dir>/kafka/<model>.<incarnation>/. Thread-safe.
class Catalogue {
 public:
  struct Options {
    ClientOptions kafka;
    std::string data_dir;
    CheckpointPolicy checkpoints;
    // A replica whose snapshots start the models that have no checkpoint
    // here; no address: those replay their topics from the start.
    PeerOptions bootstrap_peer;
  };

  // Connects, reads the catalogue to its end (starting each model from its
  // newest checkpoint, else from the bootstrap peer's snapshot, else
  // empty, and reading its topic from there), then follows it on a thread.
  // `registry` holds no store and outlives this.
  static absl::StatusOr<std::unique_ptr<Catalogue>> Start(
      const Options& options, ModelRegistry* registry);
  ~Catalogue();  // Stop()

  // CreateModel: makes sure the model's topic exists with one partition,
  // writes the create record and waits until this replica applied it.
  absl::StatusOr<std::shared_ptr<LiveModel>> Create(absl::string_view name,
                                                    const ModelConfig& config);
  // DeleteModel, the same way.
  absl::Status Delete(absl::string_view name);
  // Restore (`request.snapshot` inline, validated by the caller), the same
  // way: the model becomes a new incarnation starting from the snapshot and
  // reading its topic from the end it has now.
  absl::StatusOr<std::shared_ptr<LiveModel>> Restore(
      const v1::RestoreRequest& request);

  // The model's topic, or null if no such model.
  std::shared_ptr<ModelTopic> Topic(absl::string_view name) const;
  // ModelTopic::Checkpoint of every model.
  absl::Status CheckpointAll(bool force);
  // Stops following the catalogue and every model's topic (the registry's
  // learners keep their state). Idempotent.
  void Stop();

  std::string TopicOf(absl::string_view model) const {
    return absl::StrCat(options_.kafka.topic_prefix, model);
  }

 private:
  Catalogue(const Options& options, ModelRegistry* registry,
            std::unique_ptr<Producer> producer)
      : options_(options),
        registry_(registry),
        producer_(std::move(producer)),
        catalogue_topic_(absl::StrCat(options.kafka.topic_prefix, "_models")) {}
  // Where model `name` (a new incarnation, starting as `initial`) starts:
  // its checkpoint, the bootstrap peer's snapshot, or `initial` at
  // start_offset. `source` says which.
  absl::StatusOr<TopicCheckpoint> StartingState(
      const std::string& name, int64_t incarnation, const LinearModel& initial,
      int64_t start_offset, const std::string& dir, std::string* source) const;
  // Starts incarnation `incarnation` of model `name` from its StartingState,
  // which `install` puts in the registry, and reads its topic.
  absl::Status StartIncarnation(
      const std::string& name, int64_t incarnation, const LinearModel& initial,
      int64_t start_offset,
      absl::FunctionRef<
          absl::StatusOr<std::shared_ptr<LiveModel>>(const LinearModel&)>
          install) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies the catalogue record at `record.offset`; its outcome is kept
  // for the call that wrote it.
  void Apply(const Record& record) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status ApplyCreate(int64_t offset, const v1::CreateModelRequest& create,
                           int64_t start_offset) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status ApplyDelete(const v1::DeleteModelRequest& request);
  absl::Status ApplyRestore(int64_t offset, const v1::RestoreRequest& request,
                            int64_t start_offset) ABSL_LOCKS_EXCLUDED(mu_);
  // Writes `record` to the catalogue and returns the outcome of applying it.
  absl::Status WriteAndWait(const v1::LogRecord& record)
      ABSL_LOCKS_EXCLUDED(mu_);

  const Options options_;
  ModelRegistry* const registry_;
  const std::unique_ptr<Producer> producer_;
  const std::string catalogue_topic_;
  std::atomic<bool> stopping_{false};
  std::thread follower_;
  PartAssembler parts_;  // the thread applying records only

  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<ModelTopic>, std::less<>> topics_
      ABSL_GUARDED_BY(mu_);
  int64_t next_offset_ ABSL_GUARDED_BY(mu_) = 0;
  // Outcomes of the newest records applied, by offset.
  std::map<int64_t, absl::Status> outcomes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace streamfit::kafka

#endif  // STREAMFIT_SERVER_KAFKA_CATALOGUE_H_
