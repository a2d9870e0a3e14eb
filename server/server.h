// A running streamfit server: the gRPC endpoint, its services and models.
#ifndef STREAMFIT_SERVER_SERVER_H_
#define STREAMFIT_SERVER_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "core/model/model_config.h"
#include "prometheus/registry.h"
#include "server/auth/auth_processor.h"
#include "server/auth/tls_credentials.h"
#include "server/inference_service.h"
#include "server/kafka/catalogue.h"
#include "server/learner_service.h"
#include "server/metrics/metrics_server.h"
#include "server/metrics/observed_file_system.h"
#include "server/model_policies.h"
#include "server/model_registry.h"
#include "server/model_store.h"

namespace streamfit {

// The name the health service reports the Learner service under: SERVING
// once the models are recovered, NOT_SERVING while recovering, while any
// model is failed (ModelInfo.state) and while draining at shutdown.
// The overall status ("") is NOT_SERVING while recovering and draining and
// SERVING otherwise.
inline constexpr char kLearnerServiceName[] = "streamfit.v1.Learner";

// Owns the gRPC server, the registry and the service. Thread-safe after
// Start; Shutdown is idempotent and also run by the destructor.
//
// Lifecycle: RECOVERING (Start: the models are loaded while a
// RecoveryHealthServer holds the address: health NOT_SERVING, every other
// call UNAVAILABLE), SERVING (the full server bound to the same port; health
// from gRPC's default service), DRAINING (Drain: health NOT_SERVING, every
// call still served) and stopped (Shutdown). Recovery runs behind a separate
// server rather than behind the full one so that no service needs a
// "recovered yet?" check in each of its methods and none ever sees a
// partial registry. Between the two servers the port is closed for a
// moment, which a probe reads as not ready and a client retries.
class StreamfitServer {
 public:
  struct Options {
    // host:port; port 0 picks a free port (read it back with port()).
    std::string address = "127.0.0.1:50051";
    std::string data_dir = "./streamfit-data";
    // A model created at start when set (name, config).
    std::string default_model;
    ModelConfig default_config;
    Learner::Options learner;
    // Largest request message accepted (gRPC answers RESOURCE_EXHAUSTED
    // past it); replies are not limited.
    int max_receive_message_bytes = 64 << 20;
    RegistryLimits limits;  // --max_models, --max_model_bytes
    ServiceLimits service;  // --max_predict_rows
    // Datasets and retraining: under data_dir/datasets and /jobs.
    uint64_t max_dataset_bytes = 1ull << 30;
    int retrain_threads = 1;
    uint64_t retrain_replay_limit = 1 << 22;
    // Sample log, fsync policy and checkpoints.
    StorageOptions storage;
    // Transport security and callers (server/auth/): TLS when tls.cert_file
    // is set; roles from auth_tokens_file; see auth::CheckExposure for what
    // a non-loopback address needs.
    auth::TlsFiles tls;
    std::string auth_tokens_file;
    bool allow_insecure_remote = false;
    // Where the served copies of the TLS files live; "" for $TMPDIR.
    std::string tls_runtime_dir;
    // host:port for Prometheus metrics on /metrics over HTTP; "" for none
    // (server/metrics/).
    std::string metrics_address;
    // Kafka mode when kafka.brokers is set: models and their samples live in
    // Kafka topics (server/kafka/), data_dir holds checkpoints only.
    kafka::ClientOptions kafka;
    // Kafka mode: host:port of a replica whose snapshots start the models
    // this one has no checkpoint of (--bootstrap_peer).
    kafka::PeerOptions kafka_bootstrap_peer;
  };

  // The start-up checks of the security options alone (no I/O):
  // INVALID_ARGUMENT, a usage error, as auth::CheckExposure.
  static absl::Status CheckSecurityOptions(const Options& options);

  // Opens the data directory, binds the address with a health-only server
  // (NOT_SERVING; logs server.recovering), recovers the models (checkpoint +
  // log replay), creates the default model if it does not exist, starts the
  // retrain jobs (logs server.recovered), then serves on the same port.
  // FAILED_PRECONDITION if another process has the data directory open (its
  // LOCK file is flock-ed); UNAVAILABLE if the address cannot be bound (also
  // when another process listens on it); DATA_LOSS if a model cannot be
  // recovered.
  static absl::StatusOr<std::unique_ptr<StreamfitServer>> Start(
      const Options& options);
  ~StreamfitServer();

  int port() const { return port_; }
  // The metrics port (0 without metrics_address).
  int metrics_port() const { return metrics_ ? metrics_->port() : 0; }
  std::string address() const;  // host:bound_port
  ModelRegistry& registry() { return registry_; }

  // Reports NOT_SERVING for "" and kLearnerServiceName and logs
  // server.draining, then keeps serving every call for `period` before it
  // returns (load balancers and readiness probes stop sending meanwhile).
  // Shutdown follows. Returns at once after Shutdown or a first Drain.
  void Drain(absl::Duration period);
  // Reports NOT_SERVING, stops accepting calls (cancelling open ones after
  // `grace`), drains the learners and writes a final checkpoint of each
  // model.
  void Shutdown(absl::Duration grace = absl::Seconds(5));
  // Blocks until Shutdown.
  void Wait();

  // Re-reads the TLS files and the auth tokens file (SIGHUP); on error the
  // ones in service stay. OK without TLS.
  absl::Status ReloadCredentials();

 private:
  StreamfitServer(const Options& options,
                  std::shared_ptr<prometheus::Registry> metrics_registry,
                  std::unique_ptr<metrics::ObservedFileSystem> file_system,
                  std::unique_ptr<ModelStore> store)
      : options_(options),
        metrics_registry_(std::move(metrics_registry)),
        file_system_(std::move(file_system)),
        store_(std::move(store)),
        registry_(options.learner,
                  options.kafka.brokers.empty() ? store_.get() : nullptr,
                  options.limits),
        service_(&registry_, store_.get(), options.service),
        inference_service_(&registry_) {}
  // TLS credentials (and the auth processor) from the options, or insecure
  // ones; sets tls_ and auth_processor_.
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials();
  void CheckpointLoop();
  // Sets kLearnerServiceName's health: NOT_SERVING while any model is
  // failed (the overall status stays SERVING: Predict works). Nothing while
  // draining or shut down.
  void UpdateHealth();

  // options.storage.file_system is file_system_, observing the one given.
  const Options options_;
  // RPC and disk metrics (the interceptor, file_system_) are kept even when
  // not served.
  const std::shared_ptr<prometheus::Registry> metrics_registry_;
  // Before everything that does file work through it.
  const std::unique_ptr<metrics::ObservedFileSystem> file_system_;
  const std::unique_ptr<ModelStore> store_;
  ModelRegistry registry_;
  LearnerService service_;
  InferenceService inference_service_;  // the Open Inference Protocol
  std::unique_ptr<DatasetStore> datasets_;
  std::unique_ptr<RetrainJobs> jobs_;
  // Embedded mode: ModelConfig.policies, checked by the checkpoint loop.
  std::unique_ptr<ModelPolicyRunner> policies_;
  std::unique_ptr<kafka::Catalogue> catalogue_;  // Kafka mode only
  std::unique_ptr<auth::TlsCredentials> tls_;
  std::shared_ptr<auth::AuthProcessor> auth_processor_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  absl::Notification stop_checkpointing_;
  std::thread checkpointer_;
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
  bool draining_ ABSL_GUARDED_BY(shutdown_mu_) = false;
  // Last: stops serving before what it reads is destroyed.
  std::unique_ptr<metrics::MetricsServer> metrics_;
};

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_SERVER_H_
