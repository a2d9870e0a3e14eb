// Batch training: fits a fresh linear model to a whole dataset at once.
#ifndef STREAMFIT_CORE_BATCH_TRAINER_H_
#define STREAMFIT_CORE_BATCH_TRAINER_H_

#include <functional>

#include "absl/status/statusor.h"
#include "core/example_batch.h"
#include "core/linear_model.h"
#include "core/model_config.h"

namespace streamfit {

struct FullBatchGdOptions {
  int max_iterations = 2000;
  // Stops when the gradient's norm falls below this.
  double gradient_tolerance = 1e-8;
  // Called after each iteration with (iteration, objective); optional.
  std::function<void(int, double)> on_iteration;
};

// Classic full-batch gradient descent on the importance-weighted mean loss
// plus (l2 / 2) ||W||^2, with an Armijo backtracking line search. Features
// (and a regression target) are standardized with the dataset's own
// statistics when config.standardize is set, so the result predicts exactly
// like a LinearModel. Deterministic. INVALID_ARGUMENT if the config or data
// is invalid or data is empty.
absl::StatusOr<LinearModel> FitFullBatchGd(
    const ModelConfig& config, const ExampleBatch& data,
    const FullBatchGdOptions& options = {});

}  // namespace streamfit

#endif  // STREAMFIT_CORE_BATCH_TRAINER_H_
