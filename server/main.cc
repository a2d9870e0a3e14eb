// streamfit-server: serves live online-learning models over gRPC.
#include <climits>
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/command_line.h"
#include "server/logging.h"
#include "server/server.h"

ABSL_FLAG(std::string, address, "127.0.0.1:50051",
          "host:port to listen on; port 0 picks a free port");
ABSL_FLAG(std::string, data_dir, "./streamfit-data",
          "directory for the server's data (created if missing)");
ABSL_FLAG(std::string, default_model, "default",
          "name of a model to create at start; empty for none");
ABSL_FLAG(std::string, default_task, "regression",
          "default model's task: regression, binary or multiclass");
ABSL_FLAG(uint32_t, default_features, 10, "default model's feature count");
ABSL_FLAG(uint32_t, default_classes, 0,
          "default model's class count (multiclass only)");
ABSL_FLAG(uint64_t, publish_every, 1024,
          "publish a new model state at least every this many samples");
ABSL_FLAG(uint64_t, publish_interval_us, 0,
          "freshness bound: while training, publish a new model state at "
          "least every this many microseconds; 0 for none");
ABSL_FLAG(uint64_t, queue_capacity, 1 << 16,
          "samples a model's learner queue holds before producers wait");
ABSL_FLAG(uint64_t, queue_capacity_bytes, 32 << 20,
          "bytes of samples a model's learner queue holds before producers "
          "wait (a single larger message is admitted alone)");
ABSL_FLAG(int, log_sync_threads, 4,
          "threads that fsync the sample logs of all models");
ABSL_FLAG(uint64_t, max_dataset_bytes, 1ull << 30,
          "largest dataset upload accepted, in bytes");
ABSL_FLAG(int, retrain_threads, 1,
          "retrain jobs running at once (each uses one core)");
ABSL_FLAG(uint64_t, retrain_replay_limit, 1 << 22,
          "samples a model may learn during a retrain; past that its swap "
          "fails (they are held in memory for the replay)");

// Limits (README, "Limits").
ABSL_FLAG(uint64_t, max_models, 1000,
          "models the server holds at most; CreateModel past it gets "
          "RESOURCE_EXHAUSTED");
ABSL_FLAG(uint64_t, max_model_bytes, uint64_t{1} << 30,
          "largest model state (dense planes, hashed table, statistics) "
          "CreateModel and Restore accept, in bytes; at most 1342177280 "
          "(1.25 GiB) so that every model's snapshot fits protobuf's 2 GiB");
ABSL_FLAG(uint32_t, max_message_bytes, 64 << 20,
          "largest request message accepted, in bytes (Observe, Predict, "
          "Restore, upload chunks)");
ABSL_FLAG(uint64_t, max_predict_rows, 1 << 20,
          "inputs one Predict may ask for");

// Durability.
ABSL_FLAG(std::string, fsync, "always",
          "when an Observe ack is sent: always (after an fsync covering the "
          "samples; group commit), interval:<ms> (once written; fsync every "
          "<ms>), never (once written; the OS flushes)");
ABSL_FLAG(uint64_t, checkpoint_every_samples, 1'000'000,
          "checkpoint a model after this many new samples");
ABSL_FLAG(double, checkpoint_interval_s, 60,
          "checkpoint a model that learned anything at least this often");
ABSL_FLAG(uint32_t, keep_checkpoints, 4,
          "checkpoints kept per model (>= 2), with the sample log from the "
          "oldest on: how far back Predict's at_version reaches");
ABSL_FLAG(uint64_t, log_segment_bytes, 64 << 20,
          "start a new sample log segment file after this many bytes");
ABSL_FLAG(double, shutdown_grace_s, 5,
          "on SIGTERM/SIGINT, cancel calls still open after this many seconds");
ABSL_FLAG(double, shutdown_drain_s, 0,
          "on SIGTERM/SIGINT, first report NOT_SERVING on health and keep "
          "serving for this many seconds (load balancers and readiness "
          "probes stop sending meanwhile), then shut down");

ABSL_FLAG(std::string, log_format, "text",
          "log lines on stderr: text, or json (one object per line)");

ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain: serve TLS (re-read on SIGHUP)");
ABSL_FLAG(std::string, tls_key_file, "",
          "PEM private key of --tls_cert_file (re-read on SIGHUP)");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA: clients must present a certificate it signed (mutual TLS; "
          "re-read on SIGHUP)");
ABSL_FLAG(std::string, tls_runtime_dir, "",
          "writable directory for the copies of the TLS files in service; "
          "empty for $TMPDIR or /tmp");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "callers and roles, one per line: '<role> <sha256-hex-of-token> "
          "[name]' or '<role> cn:<client certificate common name>'; roles "
          "predictor < observer < operator < admin; needs TLS; re-read on "
          "SIGHUP");
ABSL_FLAG(std::string, metrics_address, "",
          "host:port to serve Prometheus metrics on (/metrics over HTTP); "
          "empty for none");
ABSL_FLAG(std::string, kafka_brokers, "",
          "host:port[,host:port...] of a Kafka cluster: Kafka mode, where "
          "every server with the same brokers and prefix is a replica of "
          "every model; empty: the embedded sample log");
ABSL_FLAG(std::string, kafka_topic_prefix, "streamfit.",
          "Kafka mode: model topics are <prefix><model>, the catalogue "
          "<prefix>_models");
ABSL_FLAG(std::string, bootstrap_peer, "",
          "Kafka mode: host:port of a running replica whose "
          "snapshots start the models this server has no checkpoint of, "
          "instead of replaying their topics from the start");
ABSL_FLAG(std::string, bootstrap_peer_ca_file, "",
          "Kafka mode: PEM CA that verifies --bootstrap_peer's certificate; "
          "set for a peer that serves TLS");
ABSL_FLAG(std::string, bootstrap_peer_token_file, "",
          "Kafka mode: file holding a bearer token (operator or admin role) "
          "sent to --bootstrap_peer, which needs TLS");
ABSL_FLAG(std::vector<std::string>, kafka_option, {},
          "Kafka mode: key=value librdkafka settings for every client "
          "(security.protocol, sasl.*, ssl.*, ...), comma-separated");
ABSL_FLAG(uint64_t, kafka_max_message_bytes, 1'000'000,
          "Kafka mode: the largest message written (Kafka's default limit); "
          "a larger record, such as a retrain's fit or a restored state, is "
          "written in parts. Raising it also needs message.max.bytes "
          "(--kafka_option) and the brokers' limits raised");
ABSL_FLAG(bool, allow_insecure_remote, false,
          "accept the risk of listening beyond loopback without TLS and "
          "authentication");

namespace {

constexpr int kServerErrorExitCode = 1;

// A usage error: the message on stderr, exit code 2.
int UsageError(absl::string_view message) {
  std::fprintf(stderr,
               "streamfit-server: %s\nrun 'streamfit-server --help' for "
               "usage\n",
               std::string(message).c_str());
  return streamfit::kUsageExitCode;
}

absl::StatusOr<streamfit::Task> ParseTask(std::string name) {
  name = absl::AsciiStrToLower(name);
  if (name == "regression") return streamfit::Task::kRegression;
  if (name == "binary") return streamfit::Task::kBinary;
  if (name == "multiclass") return streamfit::Task::kMulticlass;
  return absl::InvalidArgumentError(
      absl::StrCat("--default_task must be regression, binary or multiclass, "
                   "got '",
                   name, "'"));
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<char*> positional = streamfit::ParseCommandLineOrExit(
      argc, argv,
      {"streamfit-server: serves live online-learning models over gRPC.\n\n"
       "usage: streamfit-server [--address host:port] [--data_dir DIR] "
       "[flags]\n\n"
       "exit codes: 0 after a clean shutdown or --help, 1 on a server-side "
       "error, 2 on a usage error.",
       [](absl::string_view file) {
         return absl::StrContains(file, "server/main.cc");
       }});
  if (positional.size() > 1) {
    return UsageError(
        absl::StrCat("unexpected argument '", positional[1], "'"));
  }
  absl::StatusOr<streamfit::logging::Format> log_format =
      streamfit::logging::ParseFormat(absl::GetFlag(FLAGS_log_format));
  if (!log_format.ok()) return UsageError(log_format.status().message());
  streamfit::logging::Init(*log_format);
  // Debian's Abseil is built with mutex deadlock detection on: a cycle graph
  // update on every lock, measurable on the Observe hot path.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Handle SIGINT/SIGTERM on this thread with sigwait: block them first so
  // every thread started later inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  streamfit::StreamfitServer::Options options;
  options.address = absl::GetFlag(FLAGS_address);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.default_model = absl::GetFlag(FLAGS_default_model);
  options.learner.publish_every = absl::GetFlag(FLAGS_publish_every);
  options.learner.queue_capacity = absl::GetFlag(FLAGS_queue_capacity);
  options.learner.queue_capacity_bytes =
      absl::GetFlag(FLAGS_queue_capacity_bytes);
  options.learner.publish_interval =
      absl::Microseconds(absl::GetFlag(FLAGS_publish_interval_us));
  options.max_dataset_bytes = absl::GetFlag(FLAGS_max_dataset_bytes);
  options.limits.max_models = absl::GetFlag(FLAGS_max_models);
  options.limits.max_model_bytes = absl::GetFlag(FLAGS_max_model_bytes);
  if (options.limits.max_model_bytes > streamfit::kMaxModelBytesLimit) {
    std::fprintf(
        stderr, "streamfit-server: --max_model_bytes may be at most %llu\n",
        static_cast<unsigned long long>(streamfit::kMaxModelBytesLimit));
    return 2;
  }
  const uint32_t max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  if (max_message_bytes < 1024 || max_message_bytes > INT32_MAX) {
    std::fprintf(stderr,
                 "streamfit-server: --max_message_bytes must be in [1024, "
                 "%d]\n",
                 INT32_MAX);
    return 2;
  }
  options.max_receive_message_bytes = static_cast<int>(max_message_bytes);
  options.service.max_predict_rows = absl::GetFlag(FLAGS_max_predict_rows);
  options.retrain_threads = absl::GetFlag(FLAGS_retrain_threads);
  options.retrain_replay_limit = absl::GetFlag(FLAGS_retrain_replay_limit);
  absl::StatusOr<streamfit::FsyncPolicy> fsync =
      streamfit::ParseFsyncPolicy(absl::GetFlag(FLAGS_fsync));
  if (!fsync.ok()) {
    return UsageError(absl::StrCat("--fsync: ", fsync.status().message()));
  }
  options.storage.fsync = *fsync;
  options.storage.checkpoint_every_samples =
      absl::GetFlag(FLAGS_checkpoint_every_samples);
  options.storage.checkpoint_interval =
      absl::Seconds(absl::GetFlag(FLAGS_checkpoint_interval_s));
  options.storage.keep_checkpoints = absl::GetFlag(FLAGS_keep_checkpoints);
  if (options.storage.keep_checkpoints < 2) {
    return UsageError("--keep_checkpoints must be at least 2");
  }
  options.storage.segment_bytes = absl::GetFlag(FLAGS_log_segment_bytes);
  options.storage.log_sync_threads = absl::GetFlag(FLAGS_log_sync_threads);
  if (options.storage.log_sync_threads < 1 ||
      options.storage.log_sync_threads > 256) {
    return UsageError("--log_sync_threads must be in [1, 256]");
  }
  options.tls.cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  options.tls.key_file = absl::GetFlag(FLAGS_tls_key_file);
  options.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  options.tls_runtime_dir = absl::GetFlag(FLAGS_tls_runtime_dir);
  options.auth_tokens_file = absl::GetFlag(FLAGS_auth_tokens_file);
  options.allow_insecure_remote = absl::GetFlag(FLAGS_allow_insecure_remote);
  options.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  options.kafka.brokers = absl::GetFlag(FLAGS_kafka_brokers);
  options.kafka.topic_prefix = absl::GetFlag(FLAGS_kafka_topic_prefix);
  options.kafka.max_message_bytes =
      absl::GetFlag(FLAGS_kafka_max_message_bytes);
  options.kafka_bootstrap_peer = {
      absl::GetFlag(FLAGS_bootstrap_peer),
      absl::GetFlag(FLAGS_bootstrap_peer_ca_file),
      absl::GetFlag(FLAGS_bootstrap_peer_token_file)};
  if (absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
          settings = streamfit::kafka::ParseSettings(
              absl::GetFlag(FLAGS_kafka_option));
      settings.ok()) {
    options.kafka.settings = *std::move(settings);
  } else {
    return UsageError(settings.status().message());
  }
  if (absl::Status s =
          streamfit::StreamfitServer::CheckSecurityOptions(options);
      !s.ok()) {
    return UsageError(s.message());
  }
  if (!options.default_model.empty()) {
    absl::StatusOr<streamfit::Task> task =
        ParseTask(absl::GetFlag(FLAGS_default_task));
    if (!task.ok()) return UsageError(task.status().message());
    options.default_config.task = *task;
    options.default_config.num_features = absl::GetFlag(FLAGS_default_features);
    options.default_config.num_classes = absl::GetFlag(FLAGS_default_classes);
  }

  namespace logging = streamfit::logging;
  logging::Info("server.start", "streamfit-server starting",
                {{"address", options.address},
                 {"data_dir", options.data_dir},
                 {"tls", options.tls.enabled()},
                 {"mutual_tls", !options.tls.client_ca_file.empty()},
                 {"auth_tokens", !options.auth_tokens_file.empty()},
                 {"kafka_brokers", options.kafka.brokers}});
  auto server = streamfit::StreamfitServer::Start(options);
  if (!server.ok()) {
    logging::Error(
        "server.start_failed",
        absl::StrCat("streamfit-server: cannot start: ",
                     server.status().ToString()),
        {{"code", absl::StatusCodeToString(server.status().code())}});
    return kServerErrorExitCode;
  }
  logging::Info(
      "server.listening",
      absl::StrCat("streamfit-server listening on ", (*server)->address()),
      {{"address", (*server)->address()},
       {"data_dir", options.data_dir},
       {"metrics_port", (*server)->metrics_port()}});

  int signal = 0;
  while (sigwait(&signals, &signal) == 0 && signal == SIGHUP) {
    const absl::Status reloaded = (*server)->ReloadCredentials();
    if (reloaded.ok()) {
      logging::Info("server.credentials_reloaded",
                    "re-read the TLS and auth tokens files");
    } else {
      logging::Error("server.credentials_reload_failed",
                     absl::StrCat("kept the credentials in service: ",
                                  reloaded.ToString()));
    }
  }
  logging::Info("server.shutdown", "streamfit-server shutting down",
                {{"signal", signal}});
  (*server)->Drain(absl::Seconds(absl::GetFlag(FLAGS_shutdown_drain_s)));
  (*server)->Shutdown(absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_s)));
  logging::Info("server.stopped", "streamfit-server stopped");
  return 0;
}
