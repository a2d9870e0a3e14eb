// Command-line flags of the `streamfit` tool, defined in cli_flags.cc and
// read by the command implementations after absl::ParseCommandLine.
#ifndef STREAMFIT_CLIENT_CLI_FLAGS_H_
#define STREAMFIT_CLIENT_CLI_FLAGS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/time/time.h"

// Every command.
ABSL_DECLARE_FLAG(std::string, server);
ABSL_DECLARE_FLAG(absl::Duration, timeout);
ABSL_DECLARE_FLAG(bool, tls);
ABSL_DECLARE_FLAG(std::string, tls_ca_file);
ABSL_DECLARE_FLAG(std::string, tls_cert_file);
ABSL_DECLARE_FLAG(std::string, tls_key_file);
ABSL_DECLARE_FLAG(std::string, token_file);

ABSL_DECLARE_FLAG(bool, json);

// health
ABSL_DECLARE_FLAG(std::string, service);

// create
ABSL_DECLARE_FLAG(std::string, task);
ABSL_DECLARE_FLAG(uint32_t, features);
ABSL_DECLARE_FLAG(uint32_t, classes);
ABSL_DECLARE_FLAG(std::optional<double>, learning_rate);
ABSL_DECLARE_FLAG(std::optional<double>, power_t);
ABSL_DECLARE_FLAG(std::optional<double>, l2);
ABSL_DECLARE_FLAG(std::string, schedule);
ABSL_DECLARE_FLAG(bool, disable_standardization);
ABSL_DECLARE_FLAG(std::string, optimizer);
ABSL_DECLARE_FLAG(std::string, loss);
ABSL_DECLARE_FLAG(std::optional<double>, l1);
ABSL_DECLARE_FLAG(std::optional<double>, ftrl_beta);
ABSL_DECLARE_FLAG(std::optional<double>, adam_beta1);
ABSL_DECLARE_FLAG(std::optional<double>, adam_beta2);
ABSL_DECLARE_FLAG(std::optional<double>, huber_delta);
ABSL_DECLARE_FLAG(std::optional<double>, quantile_tau);
ABSL_DECLARE_FLAG(std::optional<double>, max_gradient);
ABSL_DECLARE_FLAG(std::optional<double>, rls_ridge);
ABSL_DECLARE_FLAG(std::optional<double>, rls_forgetting);
ABSL_DECLARE_FLAG(uint32_t, hash_bits);
ABSL_DECLARE_FLAG(std::vector<std::string>, interactions);
ABSL_DECLARE_FLAG(std::vector<std::string>, class_weights);
ABSL_DECLARE_FLAG(std::string, drift_detector);
ABSL_DECLARE_FLAG(std::string, drift_policy);
ABSL_DECLARE_FLAG(uint64_t, policy_retrain_samples);
ABSL_DECLARE_FLAG(std::string, policy_retrain_dataset);
ABSL_DECLARE_FLAG(uint64_t, batch_gap_every);
ABSL_DECLARE_FLAG(uint64_t, batch_gap_window);
ABSL_DECLARE_FLAG(double, batch_gap_retrain_ratio);
ABSL_DECLARE_FLAG(double, promote_confidence);
ABSL_DECLARE_FLAG(uint64_t, promote_window);
ABSL_DECLARE_FLAG(std::string, serving);

// observe and predict
ABSL_DECLARE_FLAG(std::string, file);
ABSL_DECLARE_FLAG(std::string, delimiter);
ABSL_DECLARE_FLAG(uint32_t, batch);
ABSL_DECLARE_FLAG(bool, has_label);
ABSL_DECLARE_FLAG(uint64_t, min_version);
ABSL_DECLARE_FLAG(int64_t, at_version);
ABSL_DECLARE_FLAG(int64_t, from_version);

// snapshot
ABSL_DECLARE_FLAG(std::string, out);
ABSL_DECLARE_FLAG(std::string, to_file);

// restore
ABSL_DECLARE_FLAG(std::string, from_snapshot);

// restore
ABSL_DECLARE_FLAG(bool, allow_reshape);

#endif  // STREAMFIT_CLIENT_CLI_FLAGS_H_
