#include "client/retrain_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, format, "csv",
          "dataset upload: csv, libsvm or examples (length-delimited "
          "streamfit.v1.Example messages).");
ABSL_FLAG(bool, header, false,
          "dataset upload, observe, predict: the CSV's first line names the "
          "columns.");
ABSL_FLAG(std::string, label_column, "",
          "dataset upload, observe, predict: the CSV's label column by name "
          "(needs --header); "
          "default: the first column.");
ABSL_FLAG(uint32_t, libsvm_features, 0,
          "dataset upload: libsvm dense width (0: the largest index seen).");
ABSL_FLAG(bool, skip_bad_rows, false,
          "dataset upload: skip and count malformed rows instead of "
          "rejecting the file.");
ABSL_FLAG(std::string, dataset_name, "",
          "dataset upload: a label for the dataset.");
ABSL_FLAG(uint32_t, chunk_kib, 1024, "dataset upload: KiB per message.");

ABSL_FLAG(std::string, dataset, "",
          "retrain: the dataset id (or --recent_samples).");
ABSL_FLAG(uint64_t, recent_samples, 0,
          "retrain: instead of --dataset, fit the model's most recent samples "
          "from its sample log.");
ABSL_FLAG(uint64_t, window, 0,
          "gap: the most recent samples compared (0: the server's 10,000).");
ABSL_FLAG(std::string, fit, "",
          "gap: least_squares, lbfgs or full_batch_gd (default: "
          "least_squares for regression, lbfgs for classifiers).");
ABSL_FLAG(std::string, algorithm, "full_batch_gd",
          "retrain: full_batch_gd, minibatch_sgd, least_squares or lbfgs.");
ABSL_FLAG(uint32_t, epochs, 0, "retrain: minibatch_sgd epochs (0: 20).");
ABSL_FLAG(uint32_t, max_iterations, 0,
          "retrain: full_batch_gd / lbfgs iteration limit (0: 2000 / 500).");
ABSL_FLAG(double, holdout, 0,
          "retrain: fraction of rows held out to compare the new and live "
          "model, in [0, 1).");
ABSL_FLAG(std::string, swap, "always",
          "retrain: always, if_better or never (a dry run).");
ABSL_FLAG(bool, warm_start, false,
          "retrain: start from the live model instead of fresh weights.");
ABSL_FLAG(uint64_t, seed, 1, "retrain: seed of shuffles and the holdout.");
ABSL_FLAG(bool, wait, false,
          "retrain: follow the job until it ends (exit 1 unless it "
          "succeeded).");
