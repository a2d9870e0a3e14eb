// Durable models in a data directory: the manifest, and per model a
// directory with its sample log and checkpoints. Recovery on start.
#ifndef STREAMFIT_SERVER_MODEL_STORE_H_
#define STREAMFIT_SERVER_MODEL_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/learner.h"
#include "core/online_batch_gap.h"
#include "core/storage/file_system.h"
#include "core/storage/sample_log.h"
#include "server/manifest.h"
#include "server/model_registry.h"

namespace streamfit {

struct StorageOptions {
  FsyncPolicy fsync;
  uint64_t segment_bytes = 64 << 20;
  // Threads that fsync every model's sample log (shared by all models).
  int log_sync_threads = 4;
  // A checkpoint is written when a model has learned this many samples
  // since its last one, or `checkpoint_interval` passed and it learned any.
  uint64_t checkpoint_every_samples = 1'000'000;
  absl::Duration checkpoint_interval = absl::Seconds(60);
  // Checkpoints kept per model (>= 2), and the log from the oldest on:
  // how far back Predict.at_version reaches.
  size_t keep_checkpoints = 4;
  // Every file operation of the store goes through it (not owned).
  FileSystem* file_system = DefaultFileSystem();
};

// Layout: <data_dir>/LOCK (flock-ed while a store is open, so two servers
// never share a data directory), <data_dir>/MANIFEST,
// <data_dir>/models/<name>.<incarnation>/ {log-*.seg, ckpt-*.ckpt},
// <data_dir>/snapshots/ for Snapshot.to_file. A model's newest
// keep_checkpoints checkpoints are kept, and the log from the oldest one on,
// so a corrupt newest checkpoint falls back to the previous one and past
// states can be rebuilt. Thread-safe.
class ModelStore {
 public:
  // Creates the data directory if missing and locks it: FAILED_PRECONDITION
  // if another process holds its LOCK.
  static absl::StatusOr<std::unique_ptr<ModelStore>> Open(
      const std::string& data_dir, const StorageOptions& options,
      const Learner::Options& learner_options);

  // Recovers every model of the manifest: newest valid checkpoint, then the
  // log tail replayed through ModelTrainer::LearnBatch (as the learner does).
  // Prints what it cut or skipped to stderr.
  absl::StatusOr<std::vector<std::shared_ptr<LiveModel>>> RecoverAll();
  // Models in the manifest (what RecoverAll recovers).
  size_t ModelCount() const;

  // A new empty durable model (config already validated).
  absl::StatusOr<std::shared_ptr<LiveModel>> Create(const std::string& name,
                                                    const ModelConfig& config);
  // A new incarnation of `name` holding `state` (its checkpoint is written
  // before the manifest points at it), with `lineage`. The caller stops the
  // old one, then calls RemoveIncarnation(old->dir).
  absl::StatusOr<std::shared_ptr<LiveModel>> Replace(const std::string& name,
                                                     const LinearModel& state,
                                                     const Lineage& lineage);
  // Saves `lineage` in the manifest as model `name`'s if its incarnation is
  // still `dir` (else OK and nothing changes).
  absl::Status SaveLineage(const std::string& name, const std::string& dir,
                           const Lineage& lineage);
  absl::Status Delete(const std::string& name);
  void RemoveIncarnation(const std::string& dir);

  enum class When {
    kIfDue,      // after checkpoint_every_samples or checkpoint_interval
    kIfChanged,  // whenever the version moved (shutdown)
    kAlways,     // even at the same version (the weights changed by a swap)
  };
  // Checkpoints `model`'s published state with its challengers (or
  // `state`, one it published) when `when` says so, then prunes old
  // checkpoints and log segments.
  absl::Status Checkpoint(LiveModel& model, When when,
                          std::shared_ptr<const PublishedSlot> state = nullptr);

  // `model` as it was after exactly `version` samples (RebuildModelAt),
  // `version` at most its published version. FAILED_PRECONDITION for a model
  // without a sample log.
  absl::StatusOr<LinearModel> PastState(LiveModel& model, uint64_t version);
  // MeasureOnlineBatchGap over `model`'s directory.
  absl::StatusOr<OnlineBatchGap> MeasureGap(LiveModel& model,
                                            uint64_t from_version,
                                            uint64_t to_version,
                                            FitAlgorithm algorithm);
  // Continues `slot`, a slot over `model`'s samples, with its log's samples
  // up to `to_version` (ReplayLogInto).
  absl::Status ReplayInto(LiveModel& model, ModelSlot& slot,
                          uint64_t to_version);
  // The samples (from_version, to_version] of `model`'s log.
  absl::StatusOr<ExampleBatch> ReadSamples(LiveModel& model,
                                           uint64_t from_version,
                                           uint64_t to_version);

  // Path in <data_dir>/snapshots of the saved snapshot `name`, given in the
  // request field `field` (ValidateName, else INVALID_ARGUMENT naming it).
  absl::StatusOr<std::string> SnapshotPath(absl::string_view field,
                                           const std::string& name) const;
  // SnapshotPath for writing a new snapshot file: creates the directory;
  // ALREADY_EXISTS if that file exists (snapshot files are never
  // overwritten).
  absl::StatusOr<std::string> NewSnapshotPath(const std::string& name) const;
  // <data_dir>/snapshots (it may not exist yet).
  std::string SnapshotDir() const { return data_dir_ + "/snapshots"; }
  // The file system all of the store's file work goes through.
  FileSystem* file_system() const { return fs_; }

 private:
  ModelStore(std::string data_dir, const StorageOptions& options,
             const Learner::Options& learner_options)
      : data_dir_(std::move(data_dir)),
        options_(options),
        fs_(options.file_system),
        log_options_{options.fsync, options.segment_bytes, fs_,
                     std::make_shared<LogSyncPool>(options.log_sync_threads)},
        learner_options_(learner_options) {}
  std::string ModelDir(const std::string& name, uint64_t incarnation) const;
  absl::StatusOr<std::shared_ptr<LiveModel>> Recover(
      const std::string& name, const Manifest::Entry& entry);
  std::string ManifestPath() const { return data_dir_ + "/MANIFEST"; }
  // Saves `next` as the manifest; on error the current one is written back.
  absl::Status SaveManifest(const Manifest& next)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string data_dir_;
  const StorageOptions options_;
  FileSystem* const fs_;
  std::unique_ptr<FileSystem::Lock> lock_;  // held for the store's life
  // Every model's log shares one sync pool.
  const SampleLog::Options log_options_;
  const Learner::Options learner_options_;
  mutable absl::Mutex mu_;
  Manifest manifest_ ABSL_GUARDED_BY(mu_);
};

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_MODEL_STORE_H_
