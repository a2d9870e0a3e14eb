#include "server/model_store.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/model_recovery.h"
#include "core/status_macros.h"
#include "core/storage/checkpoint.h"
#include "core/storage/file_util.h"
#include "server/logging.h"
#include "server/metrics/model_collector.h"
#include "server/names.h"
#include "server/snapshot_codec.h"

namespace streamfit {

absl::StatusOr<std::unique_ptr<ModelStore>> ModelStore::Open(
    const std::string& data_dir, const StorageOptions& options,
    const Learner::Options& learner_options) {
  FileSystem* const fs = options.file_system;
  RETURN_IF_ERROR(CreateDirectoryDurably(data_dir, fs));
  std::unique_ptr<ModelStore> store(
      new ModelStore(data_dir, options, learner_options));
  ASSIGN_OR_RETURN(store->lock_, fs->LockFile(data_dir + "/LOCK"));
  RETURN_IF_ERROR(CreateDirectoryDurably(data_dir + "/models", fs));
  ASSIGN_OR_RETURN(Manifest manifest,
                   Manifest::Load(store->ManifestPath(), fs));
  absl::MutexLock lock(&store->mu_);
  store->manifest_ = std::move(manifest);
  return store;
}

std::string ModelStore::ModelDir(const std::string& name,
                                 uint64_t incarnation) const {
  return absl::StrCat(data_dir_, "/models/", name, ".", incarnation);
}

size_t ModelStore::ModelCount() const {
  absl::MutexLock lock(&mu_);
  return manifest_.models.size();
}

absl::StatusOr<std::vector<std::shared_ptr<LiveModel>>>
ModelStore::RecoverAll() {
  Manifest manifest;
  {
    absl::MutexLock lock(&mu_);
    manifest = manifest_;
  }
  std::vector<std::shared_ptr<LiveModel>> models;
  for (const auto& [name, entry] : manifest.models) {
    ASSIGN_OR_RETURN(auto model, Recover(name, entry));
    models.push_back(std::move(model));
  }
  // Directories of deleted or replaced incarnations left by a crash.
  ASSIGN_OR_RETURN(const std::vector<std::string> dirs,
                   fs_->ListDirectory(data_dir_ + "/models"));
  for (const std::string& entry : dirs) {
    const std::string dir = absl::StrCat(data_dir_, "/models/", entry);
    bool live = false;
    for (const auto& [name, entry] : manifest.models) {
      live = live || dir == ModelDir(name, entry.incarnation);
    }
    if (!live) RemoveIncarnation(dir);
  }
  return models;
}

absl::StatusOr<std::shared_ptr<LiveModel>> ModelStore::Recover(
    const std::string& name, const Manifest::Entry& entry) {
  const absl::Time start = absl::Now();
  const std::string dir = ModelDir(name, entry.incarnation);
  absl::StatusOr<RecoveredModel> recovered =
      RecoverModel(dir, entry.config, log_options_, DecodeCheckpoint);
  if (!recovered.ok()) {
    return absl::Status(
        recovered.status().code(),
        absl::StrCat("model '", name, "': ", recovered.status().message()));
  }
  const LogOpenReport& report = recovered->log_report;
  if (!report.dropped_reason.empty()) {
    std::fprintf(stderr,
                 "streamfit-server: model '%s': cut the log after version "
                 "%llu, dropping %llu bytes and %llu later segment files "
                 "(never acknowledged): %s\n",
                 name.c_str(),
                 static_cast<unsigned long long>(report.end_version),
                 static_cast<unsigned long long>(report.dropped_bytes),
                 static_cast<unsigned long long>(report.dropped_segments),
                 report.dropped_reason.c_str());
  }
  for (const std::string& s : recovered->skipped_checkpoints) {
    std::fprintf(stderr, "streamfit-server: model '%s': skipped %s\n",
                 name.c_str(), s.c_str());
  }
  const LinearModel& model = recovered->model;
  const std::string& failure = recovered->failure;
  const uint64_t checkpoint_version = recovered->checkpoint_version;
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  metrics::RecordRecoverySeconds(name, seconds);
  logging::Info("model.recovered",
                absl::StrFormat("model '%s' recovered at version %d "
                                "(checkpoint %d, log to %d) in %.3f s",
                                name, model.version(), checkpoint_version,
                                report.end_version, seconds),
                {{"model", name},
                 {"version", model.version()},
                 {"checkpoint_version", checkpoint_version},
                 {"seconds", seconds}});
  if (!failure.empty()) {
    logging::Error(
        "model.failed",
        absl::StrFormat("model '%s' FAILED at version %d: %s; it serves that "
                        "state and refuses new samples until restored or "
                        "deleted",
                        name, model.version(), failure),
        {{"model", name}, {"version", model.version()}, {"failure", failure}});
  }
  auto live = std::make_shared<LiveModel>(name, model, learner_options_, dir,
                                          std::move(recovered->log), failure,
                                          std::move(recovered->challengers));
  Lineage lineage = entry.lineage;
  for (const Promotion& p : recovered->promotions) {
    logging::Info(
        "model.promoted",
        absl::StrFormat("model '%s': challenger '%s' promoted again "
                        "at version %d by the log's replay",
                        name, p.name, p.version),
        {{"model", name}, {"challenger", p.name}, {"version", p.version}});
    lineage = AppendLineage(
        lineage, PromotedEvent(p, absl::ToUnixMillis(absl::Now())), p.replaced);
  }
  live->SetLineage(lineage);
  {
    absl::MutexLock lock(&live->checkpoint_mu);
    live->checkpointed_version = checkpoint_version;
  }
  if (!recovered->promotions.empty()) {
    // Recorded now, so that the next recovery does not make them again.
    RETURN_IF_ERROR(Checkpoint(*live, When::kAlways));
    RETURN_IF_ERROR(SaveLineage(name, dir, lineage));
  }
  return live;
}

absl::StatusOr<std::shared_ptr<LiveModel>> ModelStore::Create(
    const std::string& name, const ModelConfig& config) {
  ASSIGN_OR_RETURN(LinearModel initial, LinearModel::Create(config));
  return Replace(name, initial,
                 CreatedLineage(absl::ToUnixMillis(absl::Now())));
}

absl::StatusOr<std::shared_ptr<LiveModel>> ModelStore::Replace(
    const std::string& name, const LinearModel& state, const Lineage& lineage) {
  absl::MutexLock lock(&mu_);
  Manifest next = manifest_;
  const uint64_t incarnation = next.next_incarnation++;
  next.models[name] = {incarnation, state.config(), lineage};
  const std::string dir = ModelDir(name, incarnation);
  // The new directory is complete (checkpoint of the state) before the
  // manifest names it: a crash in between leaves an orphan, removed later.
  RETURN_IF_ERROR(CheckpointStore(dir, fs_).Write(state.version(),
                                                  EncodeState(name, state)));
  ASSIGN_OR_RETURN(std::unique_ptr<SampleLog> log,
                   SampleLog::Open(dir, log_options_, nullptr));
  if (absl::Status saved = SaveManifest(next); !saved.ok()) {
    log.reset();
    RemoveIncarnation(dir);
    return saved;
  }
  manifest_ = std::move(next);
  auto live = std::make_shared<LiveModel>(name, state, learner_options_, dir,
                                          std::move(log));
  live->SetLineage(lineage);
  return live;
}

absl::Status ModelStore::SaveLineage(const std::string& name,
                                     const std::string& dir,
                                     const Lineage& lineage) {
  absl::MutexLock lock(&mu_);
  Manifest next = manifest_;
  auto it = next.models.find(name);
  if (it == next.models.end() ||
      ModelDir(name, it->second.incarnation) != dir) {
    return absl::OkStatus();
  }
  it->second.lineage = lineage;
  RETURN_IF_ERROR(SaveManifest(next));
  manifest_ = std::move(next);
  return absl::OkStatus();
}

absl::Status ModelStore::Delete(const std::string& name) {
  absl::MutexLock lock(&mu_);
  Manifest next = manifest_;
  auto it = next.models.find(name);
  if (it == next.models.end()) return absl::OkStatus();
  const std::string dir = ModelDir(name, it->second.incarnation);
  next.models.erase(it);
  RETURN_IF_ERROR(SaveManifest(next));
  manifest_ = std::move(next);
  RemoveIncarnation(dir);
  return absl::OkStatus();
}

absl::Status ModelStore::SaveManifest(const Manifest& next) {
  absl::Status saved = next.Save(ManifestPath(), fs_);
  if (!saved.ok()) {
    // The new manifest may already be in place (its rename happened, the
    // directory fsync failed): put the current one back, so that the error
    // means "not done" after a restart too.
    (void)manifest_.Save(ManifestPath(), fs_);
  }
  return saved;
}

void ModelStore::RemoveIncarnation(const std::string& dir) {
  if (absl::Status s = fs_->RemoveAll(dir); !s.ok()) {
    std::fprintf(stderr, "streamfit-server: cannot remove %s: %s\n",
                 dir.c_str(), s.ToString().c_str());
  }
}

absl::Status ModelStore::Checkpoint(
    LiveModel& model, When when, std::shared_ptr<const PublishedSlot> state) {
  if (model.log == nullptr) return absl::OkStatus();
  absl::MutexLock lock(&model.checkpoint_mu);
  if (state == nullptr) state = PublishedState(model.learner);
  const uint64_t version = state->champion->version();
  const uint64_t learned =
      version - std::min(version, model.checkpointed_version);
  const bool due =
      when == When::kAlways || learned >= options_.checkpoint_every_samples ||
      (learned > 0 &&
       (when == When::kIfChanged ||
        absl::Now() - model.checkpointed_at >= options_.checkpoint_interval));
  if (!due) return absl::OkStatus();
  CheckpointStore checkpoints(model.dir, fs_);
  const absl::Time start = absl::Now();
  RETURN_IF_ERROR(
      checkpoints.Write(version, EncodeCheckpoint(model.name, *state)));
  model.checkpoint_durations.Observe(
      absl::ToDoubleSeconds(absl::Now() - start));
  model.checkpointed_version = std::max(model.checkpointed_version, version);
  model.checkpointed_at = absl::Now();
  ASSIGN_OR_RETURN(const uint64_t oldest_kept,
                   checkpoints.Prune(options_.keep_checkpoints));
  return model.log->RemoveSegmentsBefore(oldest_kept);
}

namespace {

absl::Status NoSampleLog() {
  return absl::FailedPreconditionError(
      "this model keeps no sample log to read its past from (Kafka mode: the "
      "samples are in the model's topic)");
}

}  // namespace

absl::StatusOr<LinearModel> ModelStore::PastState(LiveModel& model,
                                                  uint64_t version) {
  if (model.log == nullptr) return NoSampleLog();
  absl::MutexLock lock(&model.checkpoint_mu);  // no pruning meanwhile
  return RebuildModelAt(model.dir, fs_, *model.log, version, DecodeState);
}

absl::StatusOr<OnlineBatchGap> ModelStore::MeasureGap(LiveModel& model,
                                                      uint64_t from_version,
                                                      uint64_t to_version,
                                                      FitAlgorithm algorithm) {
  if (model.log == nullptr) return NoSampleLog();
  absl::MutexLock lock(&model.checkpoint_mu);
  return MeasureOnlineBatchGap(model.dir, fs_, *model.log, from_version,
                               to_version, algorithm, DecodeState);
}

absl::Status ModelStore::ReplayInto(LiveModel& model, ModelSlot& slot,
                                    uint64_t to_version) {
  if (model.log == nullptr) return NoSampleLog();
  absl::MutexLock lock(&model.checkpoint_mu);
  return ReplayLogInto(*model.log, slot, to_version);
}

absl::StatusOr<ExampleBatch> ModelStore::ReadSamples(LiveModel& model,
                                                     uint64_t from_version,
                                                     uint64_t to_version) {
  if (model.log == nullptr) return NoSampleLog();
  absl::MutexLock lock(&model.checkpoint_mu);
  if (from_version < model.log->first_version()) {
    return absl::OutOfRangeError(absl::StrCat(
        "the sample log holds the samples after version ",
        model.log->first_version(), " only, not from version ", from_version));
  }
  ExampleBatch samples;
  samples.num_features = model.config.num_features;
  RETURN_IF_ERROR(model.log->Replay(
      from_version,
      [&](uint64_t start, const ExampleBatch& batch) {
        const uint64_t end =
            std::min<uint64_t>(batch.size(), to_version - start);
        for (uint64_t i = std::max(from_version, start) - start; i < end; ++i) {
          samples.Add(batch.view(i), batch.labels[i], batch.weights[i]);
        }
        return absl::OkStatus();
      },
      to_version));
  return samples;
}

absl::StatusOr<std::string> ModelStore::SnapshotPath(
    absl::string_view field, const std::string& name) const {
  RETURN_IF_ERROR(ValidateName(field, name));
  return absl::StrCat(SnapshotDir(), "/", name);
}

absl::StatusOr<std::string> ModelStore::NewSnapshotPath(
    const std::string& name) const {
  ASSIGN_OR_RETURN(std::string path, SnapshotPath("to_file", name));
  RETURN_IF_ERROR(CreateDirectoryDurably(SnapshotDir(), fs_));
  const absl::StatusOr<uint64_t> existing = fs_->FileSize(path);
  if (existing.ok()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "snapshot file '", name, "' already exists on the server"));
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  return path;
}

}  // namespace streamfit
