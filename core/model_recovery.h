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
#include "core/model/model_trainer.h"
#include "core/storage/file_system.h"
#include "core/storage/sample_log.h"

namespace streamfit {

// Reads a checkpoint's payload (its encoding is the caller's: the server
// stores snapshots as protobuf, which core does not know).
using CheckpointDecoder =
    std::function<absl::StatusOr<LinearModel>(const std::string& payload)>;

// What RecoverModel rebuilt, and what it met on the way.
struct RecoveredModel {
  LinearModel model;
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

// Rebuilds the model kept in `dir` (a model of `config`): the newest
// checkpoint that decodes and whose log replays, then every sample-log record
// after it, each applied exactly as the learner applies it. With no usable
// checkpoint the whole log is replayed from an empty model. DATA_LOSS if
// neither works (a checkpoint of the wrong version, or a gap in the log).
// The log is opened by this call (cutting a torn tail) and returned open.
absl::StatusOr<RecoveredModel> RecoverModel(
    const std::string& dir, const ModelConfig& config,
    const SampleLog::Options& log_options, const CheckpointDecoder& decode);

// Applies the samples of `batch` (a log record starting at version `start`)
// after trainer.version(), with ModelTrainer::LearnBatch. INVALID_ARGUMENT and
// the model unchanged if the record fails the validation Observe applies (a
// valid CRC over invalid samples: written by another version, or by hand);
// DATA_LOSS if it starts after the model's version.
absl::Status ApplyLogRecord(ModelTrainer& trainer, uint64_t start,
                            const ExampleBatch& batch);

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_RECOVERY_H_
