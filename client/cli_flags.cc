#include "client/cli_flags.h"

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
ABSL_FLAG(std::string, tls_key_file, "",
          "PEM private key of --tls_cert_file.");
ABSL_FLAG(std::string, token_file, "",
          "File holding a bearer token, sent as 'authorization: Bearer' "
          "metadata (needs TLS).");
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

ABSL_FLAG(std::string, file, "",
          "observe, predict: CSV file, one example per line (required).");
ABSL_FLAG(uint32_t, batch, 256, "observe, predict: examples per message.");
ABSL_FLAG(bool, has_label, true,
          "predict: the CSV's first column is a label (then the accuracy or "
          "MSE is reported on stderr); false: every column is a feature.");

ABSL_FLAG(uint64_t, min_version, 0,
          "predict: wait (up to --timeout) until the model has applied this "
          "many samples, e.g. the version that observe printed.");

ABSL_FLAG(std::string, out, "",
          "snapshot: write the JSON to this file instead of stdout.");
