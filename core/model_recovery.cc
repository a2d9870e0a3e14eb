#include "core/model_recovery.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/storage/checkpoint.h"

namespace streamfit {

absl::Status ApplyLogRecord(ModelSlot& trainer, uint64_t start,
                            const ExampleBatch& batch,
                            std::vector<Promotion>* promotions) {
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
  trainer.LearnBatch(batch, trainer.version() - start, batch.size(),
                     promotions);
  return absl::OkStatus();
}

namespace {

// Calls learn(batch, begin, end) with the log's samples after `learner`'s
// version up to `to_version`; `learn` learns them into `learner` (a
// ModelTrainer or a ModelSlot).
template <class Target, class Learn>
absl::Status ReplayRange(const SampleLog& log, Target& learner,
                         uint64_t to_version, const Learn& learn) {
  RETURN_IF_ERROR(log.Replay(
      learner.version(),
      [&](uint64_t start, const ExampleBatch& batch) -> absl::Status {
        if (start > learner.version()) {
          return absl::DataLossError(
              absl::StrCat("log record at version ", start,
                           " leaves a gap after version ", learner.version()));
        }
        learn(batch, learner.version() - start,
              std::min<uint64_t>(batch.size(), to_version - start));
        return absl::OkStatus();
      },
      to_version));
  if (learner.version() != to_version) {
    return absl::DataLossError(absl::StrCat("the log ends at version ",
                                            learner.version(), ", before ",
                                            to_version));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ReplayLogInto(
    const SampleLog& log, ModelTrainer& trainer, uint64_t to_version,
    const std::function<void(const ExampleBatch&, size_t, size_t)>& learn) {
  return ReplayRange(log, trainer, to_version,
                     [&](const ExampleBatch& batch, size_t begin, size_t end) {
                       if (learn) {
                         learn(batch, begin, end);
                       } else {
                         trainer.LearnBatch(batch, begin, end);
                       }
                     });
}

absl::Status ReplayLogInto(const SampleLog& log, ModelSlot& slot,
                           uint64_t to_version) {
  return ReplayRange(log, slot, to_version,
                     [&](const ExampleBatch& batch, size_t begin, size_t end) {
                       slot.LearnBatch(batch, begin, end);
                     });
}

absl::StatusOr<LinearModel> RebuildModelAt(const std::string& dir,
                                           FileSystem* fs, const SampleLog& log,
                                           uint64_t version,
                                           const CheckpointDecoder& decode) {
  const CheckpointStore checkpoints(dir, fs);
  ASSIGN_OR_RETURN(const std::vector<uint64_t> versions, checkpoints.List());
  // The log reaches back to its first record; a checkpoint before that
  // cannot be continued (unless the log holds nothing after it).
  const uint64_t log_start = log.first_version();
  uint64_t oldest = UINT64_MAX;
  for (const uint64_t v : versions) {  // newest first
    if (v < log_start && v < log.end_version()) continue;
    oldest = v;
    if (v > version) continue;
    absl::StatusOr<std::string> payload = checkpoints.Read(v);
    if (!payload.ok()) continue;
    absl::StatusOr<LinearModel> base = decode(*payload);
    if (!base.ok() || base->version() != v) continue;
    ModelTrainer trainer(*std::move(base));
    RETURN_IF_ERROR(ReplayLogInto(log, trainer, version));
    return std::move(trainer).TakeModel();
  }
  if (oldest == UINT64_MAX) {
    return absl::OutOfRangeError(absl::StrCat(
        "version ", version, " cannot be rebuilt: no checkpoint remains"));
  }
  return absl::OutOfRangeError(absl::StrCat(
      "version ", version,
      " is no longer held; the oldest version reachable is ", oldest));
}

absl::StatusOr<RecoveredModel> RecoverModel(
    const std::string& dir, const ModelConfig& config,
    const SampleLog::Options& log_options, const SlotDecoder& decode) {
  LogOpenReport report;
  ASSIGN_OR_RETURN(std::unique_ptr<SampleLog> log,
                   SampleLog::Open(dir, log_options, &report));
  std::optional<SlotState> slot;
  std::vector<Promotion> promotions;
  std::string failure;
  // Replays the log after `base`, keeping the result unless the log cannot
  // be replayed from there (a gap, or an unreadable record). A record that
  // cannot be applied stops the replay at the state before it.
  auto replay = [&](SlotState base) -> absl::Status {
    failure.clear();
    promotions.clear();
    ModelSlot trainer(std::move(base));
    const absl::Status replayed = log->Replay(
        trainer.version(), [&](uint64_t start, const ExampleBatch& batch) {
          const absl::Status applied =
              ApplyLogRecord(trainer, start, batch, &promotions);
          if (!absl::IsInvalidArgument(applied)) return applied;
          failure = std::string(applied.message());
          return absl::CancelledError("replay stopped at a bad record");
        });
    if (failure.empty()) RETURN_IF_ERROR(replayed);
    slot = std::move(trainer).TakeState();
    return absl::OkStatus();
  };
  auto load = [&](uint64_t version, const std::string& payload) {
    absl::StatusOr<SlotState> base = decode(payload);
    if (!base.ok()) return base.status();
    if (base->champion.version() != version) {
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
    if (absl::Status replayed = replay(SlotState{std::move(empty), {}});
        !replayed.ok()) {
      return absl::DataLossError(
          absl::StrCat("cannot be recovered: ", loaded.status().message(),
                       "; replaying from the start: ", replayed.message()));
    }
  }
  return RecoveredModel{.model = std::move(slot->champion),
                        .challengers = std::move(slot->challengers),
                        .promotions = std::move(promotions),
                        .log = std::move(log),
                        .log_report = report,
                        .checkpoint_version = loaded.ok() ? *loaded : 0,
                        .skipped_checkpoints = std::move(skipped),
                        .failure = std::move(failure)};
}

}  // namespace streamfit
