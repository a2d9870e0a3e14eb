// The online-vs-batch gap: how far the live online model is from the batch
// optimum on the model's most recent samples.
#ifndef STREAMFIT_CORE_ONLINE_BATCH_GAP_H_
#define STREAMFIT_CORE_ONLINE_BATCH_GAP_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "core/batch_trainer.h"
#include "core/model/linear_model.h"
#include "core/model_recovery.h"
#include "core/storage/sample_log.h"

namespace streamfit {

// Both losses are importance-weighted means of PredictionLoss over samples
// (from_version, to_version].
struct OnlineBatchGap {
  uint64_t from_version = 0;
  uint64_t to_version = 0;
  // Each sample scored by the model as it was just before learning it
  // (progressive validation, the prediction Predict served then).
  double online_loss = 0;
  // The batch fit of those samples (the model's config), scored on them.
  double batch_loss = 0;
  FitAlgorithm algorithm = FitAlgorithm::kLeastSquares;
};

// Rebuilds the model kept in `dir` at `from_version` (RebuildModelAt),
// replays its log to `to_version` scoring each sample before learning it,
// and fits the same samples by `algorithm`. The caller keeps checkpoints
// and log segments in place during the call (RebuildModelAt); `to_version`
// is at most the log's end. Errors: RebuildModelAt's, and Fit's
// INVALID_ARGUMENT (least_squares for a classifier, an empty window).
absl::StatusOr<OnlineBatchGap> MeasureOnlineBatchGap(
    const std::string& dir, FileSystem* fs, const SampleLog& log,
    uint64_t from_version, uint64_t to_version, FitAlgorithm algorithm,
    const CheckpointDecoder& decode);

}  // namespace streamfit

#endif  // STREAMFIT_CORE_ONLINE_BATCH_GAP_H_
