// Batch training: fits a linear model to a whole dataset at once, by one of
// several algorithms, for retraining a live model from an uploaded dataset.
#ifndef STREAMFIT_CORE_BATCH_TRAINER_H_
#define STREAMFIT_CORE_BATCH_TRAINER_H_

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/model/example_batch.h"
#include "core/model/linear_model.h"
#include "core/model/model_config.h"

namespace streamfit {

enum class FitAlgorithm {
  // Classic gradient descent on the whole dataset, Armijo backtracking line
  // search, stops when |gradient| < tolerance or after max_iterations.
  kFullBatchGd,
  // Shuffled epochs (seeded) of mini-batch gradient steps, step
  // learning_rate / (1 + epoch).
  kMinibatchSgd,
  // Regression only: the exact regularized least-squares solution
  // (Householder QR with column pivoting without L2, LDLT of the normal
  // equations with it).
  kLeastSquares,
  // L-BFGS (LBFGSpp) with a More-Thuente line search; any task.
  kLbfgs,
};

// OK if `algorithm` fits models of `task`: INVALID_ARGUMENT for
// least_squares and a classifier.
absl::Status CheckFitsTask(FitAlgorithm algorithm, Task task);
// The batch optimum's algorithm for `task`: exact least squares for
// regression, L-BFGS otherwise.
FitAlgorithm OptimumAlgorithm(Task task);

// Names: full_batch_gd, minibatch_sgd, least_squares, lbfgs.
absl::string_view FitAlgorithmName(FitAlgorithm algorithm);
absl::StatusOr<FitAlgorithm> ParseFitAlgorithm(absl::string_view name);

struct FitProgress {
  int step = 0;          // iterations (gd, lbfgs) or epochs (sgd) done
  int max_steps = 0;     // their limit
  double objective = 0;  // training objective after `step`
};

struct FitOptions {
  FitAlgorithm algorithm = FitAlgorithm::kFullBatchGd;
  // Iteration limit of full_batch_gd and lbfgs; 0 means 2000 and 500.
  int max_iterations = 0;
  // Epochs of minibatch_sgd; 0 means 20.
  int epochs = 0;
  size_t batch_size = 256;     // minibatch_sgd
  double learning_rate = 0.5;  // minibatch_sgd's initial step
  // full_batch_gd and lbfgs stop once |gradient| falls below this.
  double tolerance = 1e-8;
  uint64_t seed = 1;  // minibatch_sgd's shuffles
  // When set, the fit starts from this model's parameters and uses its
  // standardization statistics (instead of zeros and the dataset's own).
  // Its config must equal the fit's.
  const LinearModel* warm_start = nullptr;
  // Called after each step; optional. An exception it throws ends the fit
  // and propagates to Fit's caller.
  std::function<void(const FitProgress&)> on_progress;
  // When set and true, the fit stops with CANCELLED at the next step.
  const std::atomic<bool>* cancelled = nullptr;
};

// Minimizes the importance-weighted mean loss (loss.h; squared loss on the
// standardized target for regression) plus (l2 / 2) ||W||^2 (bias free).
// Features (and a regression target) are standardized with the dataset's
// statistics when config.standardize is set, so the result predicts exactly
// like a LinearModel; its version is 0 and its metrics empty.
// Deterministic for a given dataset, config and options. INVALID_ARGUMENT if
// the config or data is invalid or empty, least_squares is asked for a
// classifier, or the tolerance is negative; CANCELLED if cancelled.
absl::StatusOr<LinearModel> Fit(const ModelConfig& config,
                                const ExampleBatch& data,
                                const FitOptions& options);

// The metric loss of one prediction of `label`: squared error for
// regression, log loss for classifiers.
double PredictionLoss(Task task, const Prediction& pred, double label);

// The mean of the model's metric loss over `data` (squared error for
// regression, log loss for classifiers), importance weighted. Precondition:
// data passes ValidateBatch for the model's config and is not empty.
double MeanLoss(const LinearModel& model, const ExampleBatch& data);

// Kept for existing callers: Fit with kFullBatchGd.
struct FullBatchGdOptions {
  int max_iterations = 2000;
  double gradient_tolerance = 1e-8;
  // Called after each iteration with (iteration, objective); optional.
  std::function<void(int, double)> on_iteration;
};
absl::StatusOr<LinearModel> FitFullBatchGd(
    const ModelConfig& config, const ExampleBatch& data,
    const FullBatchGdOptions& options = {});

}  // namespace streamfit

#endif  // STREAMFIT_CORE_BATCH_TRAINER_H_
