// Flags of the `dataset`, `retrain` and `jobs` commands, defined in
// retrain_flags.cc. retrain also reads --l2 and --learning_rate (cli_flags.h)
// as fit-only overrides.
#ifndef STREAMFIT_CLIENT_RETRAIN_FLAGS_H_
#define STREAMFIT_CLIENT_RETRAIN_FLAGS_H_

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"

// dataset upload
ABSL_DECLARE_FLAG(std::string, format);
ABSL_DECLARE_FLAG(bool, header);
ABSL_DECLARE_FLAG(std::string, label_column);
ABSL_DECLARE_FLAG(uint32_t, libsvm_features);
ABSL_DECLARE_FLAG(bool, skip_bad_rows);
ABSL_DECLARE_FLAG(std::string, dataset_name);
ABSL_DECLARE_FLAG(uint32_t, chunk_kib);

// retrain
ABSL_DECLARE_FLAG(std::string, dataset);
ABSL_DECLARE_FLAG(std::string, algorithm);
ABSL_DECLARE_FLAG(uint64_t, recent_samples);
ABSL_DECLARE_FLAG(uint64_t, window);
ABSL_DECLARE_FLAG(std::string, fit);
ABSL_DECLARE_FLAG(uint32_t, epochs);
ABSL_DECLARE_FLAG(uint32_t, max_iterations);
ABSL_DECLARE_FLAG(double, holdout);
ABSL_DECLARE_FLAG(std::string, swap);
ABSL_DECLARE_FLAG(bool, warm_start);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(bool, wait);

#endif  // STREAMFIT_CLIENT_RETRAIN_FLAGS_H_
