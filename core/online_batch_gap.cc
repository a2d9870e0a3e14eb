#include "core/online_batch_gap.h"

#include "core/status_macros.h"

namespace streamfit {

absl::StatusOr<OnlineBatchGap> MeasureOnlineBatchGap(
    const std::string& dir, FileSystem* fs, const SampleLog& log,
    uint64_t from_version, uint64_t to_version, FitAlgorithm algorithm,
    const CheckpointDecoder& decode) {
  if (to_version <= from_version) {
    return absl::InvalidArgumentError("the window holds no sample");
  }
  ASSIGN_OR_RETURN(LinearModel start,
                   RebuildModelAt(dir, fs, log, from_version, decode));
  const ModelConfig config = start.config();
  ModelTrainer trainer(std::move(start));
  ExampleBatch window;
  window.num_features = config.num_features;
  ScoreBuffers buffers;
  Prediction prediction;
  double online_total = 0, weight_sum = 0;
  // One sample at a time: each is scored by the state that learned it.
  RETURN_IF_ERROR(ReplayLogInto(
      log, trainer, to_version,
      [&](const ExampleBatch& batch, size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) {
          const ExampleView x = batch.view(i);
          trainer.model().Predict(x, buffers, prediction);
          const double w = batch.weights[i];
          online_total +=
              w * PredictionLoss(config.task, prediction, batch.labels[i]);
          weight_sum += w;
          trainer.LearnBatch(batch, i, i + 1);
          window.Add(x, batch.labels[i], batch.weights[i]);
        }
      }));
  FitOptions options;
  options.algorithm = algorithm;
  ASSIGN_OR_RETURN(const LinearModel fitted, Fit(config, window, options));
  return OnlineBatchGap{
      .from_version = from_version,
      .to_version = to_version,
      .online_loss = weight_sum > 0 ? online_total / weight_sum : 0,
      .batch_loss = MeanLoss(fitted, window),
      .algorithm = algorithm};
}

}  // namespace streamfit
