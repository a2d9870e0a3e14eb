#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "core/thread_name.h"
#include "server/auth/exposure.h"
#include "server/logging.h"
#include "server/logging_interceptor.h"
#include "server/metrics/model_collector.h"
#include "server/metrics/process_collector.h"
#include "server/metrics/retrain_collector.h"
#include "server/metrics/rpc_metrics.h"
#include "server/recovery_health.h"

namespace streamfit {

absl::Status StreamfitServer::CheckSecurityOptions(const Options& options) {
  if (options.tls.cert_file.empty() != options.tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert_file and --tls_key_file go together");
  }
  if (!options.kafka_bootstrap_peer.token_file.empty() &&
      options.kafka_bootstrap_peer.ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--bootstrap_peer_token_file needs --bootstrap_peer_ca_file: a "
        "bearer token is never sent in plaintext");
  }
  if (!options.tls.client_ca_file.empty() && !options.tls.enabled()) {
    return absl::InvalidArgumentError(
        "--tls_client_ca_file needs --tls_cert_file and --tls_key_file");
  }
  return auth::CheckExposure({options.address, options.tls.enabled(),
                              !options.auth_tokens_file.empty(),
                              !options.tls.client_ca_file.empty(),
                              options.allow_insecure_remote});
}

namespace {

// Logs a retrain job's lifecycle (RetrainJobs::Options::on_state_change).
void LogRetrainChange(const v1::RetrainJob& job) {
  const std::string& model = job.request().model();
  const std::string state = v1::RetrainState_Name(job.state());
  if (job.state() == v1::RETRAIN_RUNNING && !job.swapped()) {
    logging::Info(
        "retrain.running",
        absl::StrCat("retrain ", job.id(), " of model '", model, "' running"),
        {{"model", model}, {"job", job.id()}});
  } else if (job.state() == v1::RETRAIN_RUNNING) {
    logging::Info("retrain.swap",
                  absl::StrCat("retrain ", job.id(), " swapped into model '",
                               model, "' at version ", job.swap_version()),
                  {{"model", model},
                   {"job", job.id()},
                   {"version", job.swap_version()},
                   {"replayed_samples", job.replayed_samples()}});
  } else if (job.finished_unix_ms() != 0) {
    const double seconds =
        static_cast<double>(job.finished_unix_ms() - job.created_unix_ms()) /
        1000;
    const bool ok = job.state() == v1::RETRAIN_SUCCEEDED;
    logging::Event(
        ok ? logging::Level::kInfo : logging::Level::kWarning, "retrain.finish",
        absl::StrFormat("retrain %s of model '%s' ended %s after %.3f s%s%s",
                        job.id(), model, state, seconds,
                        job.error().empty() ? "" : ": ", job.error()),
        {{"model", model},
         {"job", job.id()},
         {"state", state},
         {"seconds", seconds},
         {"swapped", job.swapped()},
         {"error", job.error()}});
  }
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
StreamfitServer::MakeCredentials() {
  if (!options_.tls.enabled()) return grpc::InsecureServerCredentials();
  ASSIGN_OR_RETURN(tls_, auth::TlsCredentials::Create(
                             options_.tls, options_.tls_runtime_dir));
  std::shared_ptr<grpc::ServerCredentials> credentials =
      tls_->server_credentials();
  if (!options_.auth_tokens_file.empty() ||
      !options_.tls.client_ca_file.empty()) {
    auth::CredentialTable table;
    if (!options_.auth_tokens_file.empty()) {
      ASSIGN_OR_RETURN(
          table, auth::CredentialTable::ReadFile(options_.auth_tokens_file));
    }
    auth_processor_ = std::make_shared<auth::AuthProcessor>(
        std::move(table),
        /*certificates_are_admins=*/!options_.tls.client_ca_file.empty());
    credentials->SetAuthMetadataProcessor(auth_processor_);
  }
  return credentials;
}

absl::StatusOr<std::unique_ptr<StreamfitServer>> StreamfitServer::Start(
    const Options& options) {
  RETURN_IF_ERROR(CheckSecurityOptions(options));
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create data directory ", options.data_dir, ": ", ec.message()));
  }
  // Every file operation of the store, datasets and jobs is observed.
  auto metrics_registry = std::make_shared<prometheus::Registry>();
  auto file_system = std::make_unique<metrics::ObservedFileSystem>(
      options.storage.file_system, *metrics_registry);
  Options observed = options;
  observed.storage.file_system = file_system.get();
  ASSIGN_OR_RETURN(
      std::unique_ptr<ModelStore> store,
      ModelStore::Open(observed.data_dir, observed.storage, observed.learner));
  const size_t models = store->ModelCount();
  std::unique_ptr<StreamfitServer> server(
      new StreamfitServer(observed, std::move(metrics_registry),
                          std::move(file_system), std::move(store)));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   server->MakeCredentials());

  // Recovery: the port answers health checks with NOT_SERVING meanwhile.
  ASSIGN_OR_RETURN(std::unique_ptr<RecoveryHealthServer> recovery,
                   RecoveryHealthServer::Start(options.address, credentials,
                                               kLearnerServiceName));
  server->port_ = recovery->port();
  logging::Info(
      "server.recovering",
      absl::StrCat("streamfit-server recovering on ", server->address(), " (",
                   models, " models; health NOT_SERVING until done)"),
      {{"address", server->address()}, {"models", models}});
  const absl::Time recovery_start = absl::Now();
  if (options.kafka.brokers.empty()) {
    RETURN_IF_ERROR(server->registry_.RecoverFromStore());
  } else {
    ASSIGN_OR_RETURN(
        server->catalogue_,
        kafka::Catalogue::Start({options.kafka,
                                 options.data_dir,
                                 {options.storage.checkpoint_every_samples,
                                  options.storage.checkpoint_interval,
                                  observed.storage.file_system},
                                 options.kafka_bootstrap_peer},
                                &server->registry_));
    server->service_.SetKafka(server->catalogue_.get());
  }
  if (!options.default_model.empty() &&
      absl::IsNotFound(server->registry_.Get(options.default_model).status())) {
    RETURN_IF_ERROR((server->catalogue_ != nullptr
                         ? server->catalogue_->Create(options.default_model,
                                                      options.default_config)
                         : server->registry_.Create(options.default_model,
                                                    options.default_config))
                        .status());
  }

  // Datasets and retrain jobs.
  ASSIGN_OR_RETURN(server->datasets_,
                   DatasetStore::Open({options.data_dir + "/datasets",
                                       options.max_dataset_bytes,
                                       observed.storage.file_system}));
  RetrainJobs::Options jobs_options;
  jobs_options.jobs_dir = options.data_dir + "/jobs";
  jobs_options.file_system = observed.storage.file_system;
  jobs_options.threads = options.retrain_threads;
  jobs_options.replay_limit = options.retrain_replay_limit;
  jobs_options.on_state_change = [events = &server->service_.events()](
                                     const v1::RetrainJob& job) {
    LogRetrainChange(job);
    if (std::optional<v1::ModelEvent> event = ModelEvents::OfRetrainJob(job)) {
      events->Publish(*event);
    }
  };
  jobs_options.catalogue = server->catalogue_.get();
  jobs_options.store = server->store_.get();
  ASSIGN_OR_RETURN(server->jobs_,
                   RetrainJobs::Start(&server->registry_,
                                      server->datasets_.get(), jobs_options));
  server->service_.SetRetrain(server->datasets_.get(), server->jobs_.get());
  if (server->catalogue_ == nullptr) {
    server->policies_ = std::make_unique<ModelPolicyRunner>(
        &server->registry_, &server->service_, server->jobs_.get());
    server->policies_->Check();
  }
  const double recovery_seconds =
      absl::ToDoubleSeconds(absl::Now() - recovery_start);
  logging::Info(
      "server.recovered",
      absl::StrFormat("streamfit-server recovered %d models in "
                      "%.3f s",
                      server->registry_.List().size(), recovery_seconds),
      {{"models", server->registry_.List().size()},
       {"seconds", recovery_seconds}});
  recovery.reset();  // closes the port for the full server to bind

  grpc::ServerBuilder builder;
  builder.AddListeningPort(server->address(), credentials, &server->port_);
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(std::make_unique<AuditLogInterceptorFactory>());
  interceptors.push_back(
      std::make_unique<metrics::RpcMetricsInterceptorFactory>(
          *server->metrics_registry_));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  // gRPC sets SO_REUSEPORT by default, which lets a second server bind the
  // same port and steal half the connections: refuse to share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&server->service_);
  builder.RegisterService(&server->inference_service_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.address));
  }
  server->checkpointer_ = std::thread([s = server.get()] {
    NameThisThread("sf-checkpoint");
    s->CheckpointLoop();
  });
  if (!options.metrics_address.empty()) {
    ASSIGN_OR_RETURN(
        server->metrics_,
        metrics::MetricsServer::Start(
            options.metrics_address,
            {server->metrics_registry_,
             std::make_shared<metrics::ModelCollector>(
                 &server->registry_, server->catalogue_.get()),
             std::make_shared<metrics::RetrainCollector>(server->jobs_.get()),
             std::make_shared<metrics::ProcessCollector>()}));
  }
  server->server_->GetHealthCheckService()->SetServingStatus(true);
  server->UpdateHealth();
  return server;
}

StreamfitServer::~StreamfitServer() { Shutdown(); }

std::string StreamfitServer::address() const {
  const std::string& a = options_.address;
  return absl::StrCat(a.substr(0, a.rfind(':')), ":", port_);
}

void StreamfitServer::Shutdown(absl::Duration grace) {
  {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_ || server_ == nullptr) return;
    shut_down_ = true;
    server_->GetHealthCheckService()->SetServingStatus(false);
  }
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  if (jobs_) jobs_->Shutdown();  // running retrains end ABORTED
  stop_checkpointing_.Notify();
  if (checkpointer_.joinable()) checkpointer_.join();
  if (catalogue_ != nullptr) catalogue_->Stop();  // no more records read
  registry_.StopAll();                            // drains every queue
  if (catalogue_ != nullptr) {
    const absl::Status s = catalogue_->CheckpointAll(/*force=*/true);
    if (!s.ok()) {
      logging::Error("model.checkpoint_failed",
                     absl::StrCat("final checkpoint: ", s.ToString()), {});
    }
    return;
  }
  for (const auto& model : registry_.List()) {
    const absl::Status s =
        store_->Checkpoint(*model, ModelStore::When::kIfChanged);
    if (!s.ok()) {
      logging::Error("model.checkpoint_failed",
                     absl::StrCat("final checkpoint of '", model->name,
                                  "': ", s.ToString()),
                     {{"model", model->name}});
    }
  }
}

void StreamfitServer::Drain(absl::Duration period) {
  {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_ || draining_ || server_ == nullptr) return;
    draining_ = true;
    server_->GetHealthCheckService()->SetServingStatus(false);
  }
  if (period <= absl::ZeroDuration()) return;
  logging::Info("server.draining",
                absl::StrFormat("health is NOT_SERVING; serving calls for "
                                "%.3f s before shutting down",
                                absl::ToDoubleSeconds(period)),
                {{"seconds", absl::ToDoubleSeconds(period)}});
  // The drain is a fixed period that load balancers are given to notice.
  absl::SleepFor(period);
}

void StreamfitServer::UpdateHealth() {
  bool failed = false;
  for (const auto& model : registry_.List()) {
    failed = failed || !model->failure.empty();
  }
  absl::MutexLock lock(&shutdown_mu_);
  if (shut_down_ || draining_) return;
  server_->GetHealthCheckService()->SetServingStatus(kLearnerServiceName,
                                                     !failed);
}

void StreamfitServer::CheckpointLoop() {
  std::string last_error;
  while (!stop_checkpointing_.WaitForNotificationWithTimeout(
      absl::Milliseconds(100))) {
    UpdateHealth();  // a Restore or Delete clears a failed model
    if (catalogue_ != nullptr) {
      const absl::Status s = catalogue_->CheckpointAll(/*force=*/false);
      if (!s.ok() && s.ToString() != last_error) {
        last_error = s.ToString();
        logging::Error("model.checkpoint_failed", last_error, {});
      }
      continue;
    }
    if (policies_ != nullptr) policies_->Check();
    for (const auto& model : registry_.List()) {
      const absl::Status s =
          store_->Checkpoint(*model, ModelStore::When::kIfDue);
      if (!s.ok() && s.ToString() != last_error) {  // once per distinct error
        last_error = s.ToString();
        logging::Error(
            "model.checkpoint_failed",
            absl::StrCat("checkpoint of '", model->name, "': ", last_error),
            {{"model", model->name}});
      }
    }
  }
}

void StreamfitServer::Wait() { server_->Wait(); }

absl::Status StreamfitServer::ReloadCredentials() {
  if (tls_ != nullptr) RETURN_IF_ERROR(tls_->Reload());
  if (auth_processor_ != nullptr && !options_.auth_tokens_file.empty()) {
    ASSIGN_OR_RETURN(
        auth::CredentialTable table,
        auth::CredentialTable::ReadFile(options_.auth_tokens_file));
    auth_processor_->Replace(std::move(table));
  }
  return absl::OkStatus();
}

}  // namespace streamfit
