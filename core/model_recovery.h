// Rebuilding a model from its directory: checkpoint + sample log replay.
#ifndef STREAMFIT_CORE_MODEL_RECOVERY_H_
#define STREAMFIT_CORE_MODEL_RECOVERY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model/example_batch.h"
#include "core/model/linear_model.h"
#include "core/model/model_config.h"
#include "core/model/model_slot.h"
#include "core/model/model_trainer.h"
#include "core/storage/file_system.h"
#include "core/storage/sample_log.h"

namespace streamfit {

// Reads a checkpoint's payload (its encoding is the caller's: the server
// stores snapshots as protobuf, which core does not know).
using CheckpointDecoder =
    std::function<absl::StatusOr<LinearModel>(const std::string& payload)>;
// Reads a checkpoint's champion and challengers.
using SlotDecoder =
    std::function<absl::StatusOr<SlotState>(const std::string& payload)>;

// What RecoverModel rebuilt, and what it met on the way.
struct RecoveredModel {
  LinearModel model;  // the champion
  std::vector<ChallengerState> challengers;
  // Promotions the model's policy made again in the replay: made live
  // after the checkpoint and before the process ended, so not recorded yet.
  std::vector<Promotion> promotions;
  std::unique_ptr<SampleLog> log;   // open at its valid end, for appending
  LogOpenReport log_report;         // what opening the log cut, if anything
  uint64_t checkpoint_version = 0;  // the checkpoint loaded (0: none)
  // Checkpoints that did not load, described; each was renamed to
  // "<file>.corrupt" so that pruning never keeps it in place of a good one.
  std::vector<std::string> skipped_checkpoints;
  // Empty, or why replay stopped at a record it could not apply (it fails
  // the validation Observe applies): `model` is the state before it, and a
  // restart would only meet it again, so the model is to be marked failed.
  std::string failure;
};

// Rebuilds the model kept in `dir` (a model of `config`) with its
// challengers: the newest checkpoint that decodes and whose log replays,
// then every sample-log record after it, each applied exactly as the learner
// applies it (through ModelSlot, so automatic promotions recur). With no usable
// checkpoint the whole log is replayed from an empty model. DATA_LOSS if
// neither works (a checkpoint of the wrong version, or a gap in the log).
// The log is opened by this call (cutting a torn tail) and returned open.
absl::StatusOr<RecoveredModel> RecoverModel(
    const std::string& dir, const ModelConfig& config,
    const SampleLog::Options& log_options, const SlotDecoder& decode);

// The model kept in `dir` as it was after exactly `version` samples: the
// newest checkpoint at or before `version` that decodes, continued by the
// log's samples up to `version`, each applied as the learner applied it, so
// the result is bit-identical to the state the learner published at that
// version. (Only the champion is replayed: a promotion is checkpointed at
// its version, so the states after it start from that checkpoint.) OUT_OF_RANGE
// naming the oldest version it can rebuild when no checkpoint at or before
// `version` remains (or the log no longer reaches back to one); DATA_LOSS if a
// record cannot be read. `log` may be taking records meanwhile, up to its
// end_version() >= `version`; the caller keeps checkpoints and log segments
// from being removed during the call.
absl::StatusOr<LinearModel> RebuildModelAt(const std::string& dir,
                                           FileSystem* fs, const SampleLog& log,
                                           uint64_t version,
                                           const CheckpointDecoder& decode);

// Continues `trainer` with the log's samples after its version up to
// `to_version`, as RebuildModelAt does. `learn`, if set, is called with each
// record's samples to learn (begin and end index) instead of
// trainer.LearnBatch, and learns them into `trainer` itself.
absl::Status ReplayLogInto(
    const SampleLog& log, ModelTrainer& trainer, uint64_t to_version,
    const std::function<void(const ExampleBatch&, size_t, size_t)>& learn =
        nullptr);

// Continues `slot` likewise (through ModelSlot::LearnBatch; promotions made
// on the way are not reported).
absl::Status ReplayLogInto(const SampleLog& log, ModelSlot& slot,
                           uint64_t to_version);

// Applies the samples of `batch` (a log record starting at version `start`)
// after slot.version(), with ModelSlot::LearnBatch. INVALID_ARGUMENT and
// the model unchanged if the record fails the validation Observe applies (a
// valid CRC over invalid samples: written by another version, or by hand);
// DATA_LOSS if it starts after the model's version.
// Promotions made on the way are appended to `promotions` if set.
absl::Status ApplyLogRecord(ModelSlot& slot, uint64_t start,
                            const ExampleBatch& batch,
                            std::vector<Promotion>* promotions = nullptr);

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_RECOVERY_H_
