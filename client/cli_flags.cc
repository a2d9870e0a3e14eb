#include "client/cli_flags.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051",
          "Address (host:port) of the streamfit server.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(30),
          "Deadline of each unary call (observe streams have none).");
ABSL_FLAG(bool, tls, false,
          "Connect with TLS, trusting the system's root CAs (implied by the "
          "other --tls_ flags).");
ABSL_FLAG(std::string, tls_ca_file, "",
          "PEM file of the CA that signed the server's certificate (TLS).");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM client certificate, for servers that require mutual TLS.");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file.");
ABSL_FLAG(std::string, token_file, "",
          "File holding a bearer token, sent as 'authorization: Bearer' "
          "metadata (needs TLS).");
ABSL_FLAG(bool, json, false,
          "Print results as JSON (predict: one JSON object per row) instead "
          "of text.");
ABSL_FLAG(std::string, service, "streamfit.v1.Learner",
          "health: the service to check; \"\" for the whole server.");

ABSL_FLAG(std::string, task, "",
          "create: regression, binary or multiclass (required).");
ABSL_FLAG(uint32_t, features, 0,
          "create: number of dense features per example (required).");
ABSL_FLAG(uint32_t, classes, 0, "create: number of classes (multiclass).");
ABSL_FLAG(std::optional<double>, learning_rate, std::nullopt,
          "create: initial learning rate (server default if unset).");
ABSL_FLAG(std::optional<double>, power_t, std::nullopt,
          "create: exponent of the invscaling schedule (server default if "
          "unset).");
ABSL_FLAG(std::optional<double>, l2, std::nullopt,
          "create: L2 penalty per step (server default if unset).");
ABSL_FLAG(std::string, schedule, "",
          "create: learning-rate schedule, constant or invscaling (server "
          "default if empty).");
ABSL_FLAG(bool, disable_standardization, false,
          "create: turn off online per-feature standardization.");

ABSL_FLAG(std::optional<double>, l1, std::nullopt,
          "create: L1 penalty (ftrl: lambda1; server default if unset).");
ABSL_FLAG(std::string, optimizer, "",
          "create: sgd, adagrad, ftrl, adam, normalized or rls (server "
          "default if empty: normalized).");
ABSL_FLAG(std::string, loss, "",
          "create: squared, huber, quantile, poisson, logistic, hinge or "
          "softmax (the task's default if empty).");
ABSL_FLAG(std::optional<double>, ftrl_beta, std::nullopt,
          "create: FTRL beta (server default if unset).");
ABSL_FLAG(std::optional<double>, adam_beta1, std::nullopt,
          "create: Adam beta1 (server default if unset).");
ABSL_FLAG(std::optional<double>, adam_beta2, std::nullopt,
          "create: Adam beta2 (server default if unset).");
ABSL_FLAG(std::optional<double>, huber_delta, std::nullopt,
          "create: Huber loss delta, in standardized target units.");
ABSL_FLAG(std::optional<double>, quantile_tau, std::nullopt,
          "create: quantile loss tau, in (0, 1).");
ABSL_FLAG(std::optional<double>, max_gradient, std::nullopt,
          "create: clip |dloss/dscore| to this (0: no clipping).");
ABSL_FLAG(std::optional<double>, rls_ridge, std::nullopt,
          "create: rls ridge prior, > 0 (server default if unset: 1e-6).");
ABSL_FLAG(std::optional<double>, rls_forgetting, std::nullopt,
          "create: rls forgetting factor, in [0.99, 1] (server default if "
          "unset: 1).");
ABSL_FLAG(uint32_t, hash_bits, 0,
          "create: hashed sparse and named features use 2^hash_bits slots "
          "(0: the server default, 18).");
ABSL_FLAG(std::vector<std::string>, interactions, {},
          "create: quadratic interactions between namespaces, a:b[,c:d...].");
ABSL_FLAG(std::vector<std::string>, class_weights, {},
          "create: importance multiplier per class, w0,w1[,...].");
ABSL_FLAG(std::string, drift_detector, "",
          "create: what watches the progressive loss for a rise: adwin, "
          "page_hinkley or none (server default if empty: adwin).");
ABSL_FLAG(std::string, drift_policy, "",
          "create: what a detected rise does: alert (count it), reset "
          "(also forget the update rule's state) or retrain (also start the "
          "policy retrain; server default if empty: alert).");
ABSL_FLAG(uint64_t, policy_retrain_samples, 0,
          "create: the recent samples a policy retrain fits (0: 10,000).");
ABSL_FLAG(std::string, policy_retrain_dataset, "",
          "create: a dataset id a policy retrain fits instead.");
ABSL_FLAG(uint64_t, batch_gap_every, 0,
          "create: measure the online-vs-batch gap every this many samples "
          "(0: never).");
ABSL_FLAG(uint64_t, batch_gap_window, 0,
          "create: the recent samples each gap measurement covers (0: "
          "10,000).");
ABSL_FLAG(double, batch_gap_retrain_ratio, 0,
          "create: start the policy retrain when a measured gap's ratio is at "
          "least this (0: never).");
ABSL_FLAG(double, promote_confidence, 0,
          "create: promote a challenger whose recent loss is lower with this "
          "one-sided confidence, in [0.5, 1) (0: never).");
ABSL_FLAG(uint64_t, promote_window, 0,
          "create: the recent samples a promotion compares, tested once per "
          "such window (0: 10,000).");
ABSL_FLAG(std::string, serving, "",
          "create: which weights Predict serves: auto (the average or the "
          "live weights, whichever had the lower recent loss), live or "
          "averaged (server default if empty: auto).");

ABSL_FLAG(std::string, file, "",
          "observe, predict: CSV file, one example per line, or - for "
          "stdin (required). RFC 4180: quoted fields may hold delimiters, "
          "line breaks and \"\" quotes.");
ABSL_FLAG(std::string, delimiter, ",",
          "observe, predict: the CSV field separator, one character or "
          "'tab'.");
ABSL_FLAG(uint32_t, batch, 256, "observe, predict: examples per message.");
ABSL_FLAG(bool, has_label, true,
          "predict: the CSV's first column is a label (then the accuracy or "
          "MSE is reported on stderr); false: every column is a feature.");

ABSL_FLAG(uint64_t, min_version, 0,
          "predict: wait (up to --timeout) until the model has applied this "
          "many samples, e.g. the version that observe printed.");
ABSL_FLAG(int64_t, at_version, -1,
          "predict: answer as the model was at this version (a past one, "
          "rebuilt on the server from its checkpoints and sample log).");
ABSL_FLAG(int64_t, from_version, -1,
          "challenger add: start the challenger at this earlier version of "
          "the model; it learns the samples since from the server's log "
          "before it joins, compared with the model on them.");

ABSL_FLAG(std::string, out, "",
          "snapshot: write the JSON to this file instead of stdout.");

ABSL_FLAG(bool, allow_reshape, false,
          "restore: accept a snapshot whose task, features or classes differ "
          "from the model's (the model takes the snapshot's shape).");
ABSL_FLAG(std::string, from_snapshot, "",
          "restore: the name of a snapshot saved on the server (snapshot "
          "--to_file) instead of a FILE.");
ABSL_FLAG(std::string, to_file, "",
          "snapshot: also save the snapshot on the server under this name "
          "(see `streamfit snapshots`; restore it with `restore NAME "
          "--from_snapshot`).");
