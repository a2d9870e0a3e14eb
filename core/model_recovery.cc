#include "core/model_recovery.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/storage/checkpoint.h"

namespace streamfit {

absl::Status ApplyLogRecord(ModelTrainer& trainer, uint64_t start,
                            const ExampleBatch& batch) {
  if (start > trainer.version()) {
    return absl::DataLossError(absl::StrCat("log record at version ", start,
                                            " leaves a gap after version ",
                                            trainer.version()));
  }
  if (batch.num_features != trainer.config().num_features) {
    return absl::InvalidArgumentError(absl::StrCat(
        "log record at version ", start, " has ", batch.num_features,
        " features, the model ", trainer.config().num_features));
  }
  if (absl::Status valid = ValidateBatch(batch, trainer.config());
      !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("log record at version ", start, ": ", valid.message()));
  }
  trainer.LearnBatch(batch, trainer.version() - start, batch.size());
  return absl::OkStatus();
}

absl::StatusOr<RecoveredModel> RecoverModel(
    const std::string& dir, const ModelConfig& config,
    const SampleLog::Options& log_options, const CheckpointDecoder& decode) {
  LogOpenReport report;
  ASSIGN_OR_RETURN(std::unique_ptr<SampleLog> log,
                   SampleLog::Open(dir, log_options, &report));
  std::optional<LinearModel> model;
  std::string failure;
  // Replays the log after `base`, keeping the result unless the log cannot
  // be replayed from there (a gap, or an unreadable record). A record that
  // cannot be applied stops the replay at the state before it.
  auto replay = [&](LinearModel base) -> absl::Status {
    failure.clear();
    ModelTrainer trainer(std::move(base));
    const absl::Status replayed = log->Replay(
        trainer.version(), [&](uint64_t start, const ExampleBatch& batch) {
          const absl::Status applied = ApplyLogRecord(trainer, start, batch);
          if (!absl::IsInvalidArgument(applied)) return applied;
          failure = std::string(applied.message());
          return absl::CancelledError("replay stopped at a bad record");
        });
    if (failure.empty()) RETURN_IF_ERROR(replayed);
    model = std::move(trainer).TakeModel();
    return absl::OkStatus();
  };
  auto load = [&](uint64_t version, const std::string& payload) {
    absl::StatusOr<LinearModel> base = decode(payload);
    if (!base.ok()) return base.status();
    if (base->version() != version) {
      return absl::DataLossError("checkpoint version does not match its name");
    }
    return replay(*std::move(base));
  };

  std::vector<std::string> skipped;
  const CheckpointStore checkpoints(dir, log_options.file_system);
  const absl::StatusOr<uint64_t> loaded =
      checkpoints.LoadNewest(load, &skipped);
  // Set the skipped checkpoints aside, so pruning never keeps them in place
  // of good ones.
  if (absl::StatusOr<std::vector<uint64_t>> all = checkpoints.List();
      all.ok()) {
    for (uint64_t v : *all) {
      if (loaded.ok() && v <= *loaded) break;
      const std::string path = checkpoints.PathOf(v);
      RETURN_IF_ERROR(log_options.file_system->Rename(path, path + ".corrupt"));
    }
  }
  if (!loaded.ok()) {
    // No usable checkpoint: replay the whole log from an empty model.
    ASSIGN_OR_RETURN(const ModelConfig full, WithDefaults(config));
    ASSIGN_OR_RETURN(LinearModel empty, LinearModel::Create(full));
    if (absl::Status replayed = replay(std::move(empty)); !replayed.ok()) {
      return absl::DataLossError(
          absl::StrCat("cannot be recovered: ", loaded.status().message(),
                       "; replaying from the start: ", replayed.message()));
    }
  }
  return RecoveredModel{.model = *std::move(model),
                        .log = std::move(log),
                        .log_report = report,
                        .checkpoint_version = loaded.ok() ? *loaded : 0,
                        .skipped_checkpoints = std::move(skipped),
                        .failure = std::move(failure)};
}

}  // namespace streamfit
