#include "server/recovery_health.h"

#include <grpcpp/ext/health_check_service_server_builder_option.h>
#include <grpcpp/generic/async_generic_service.h>

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace streamfit {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

class RecoveryHealthServer::Service
    : public grpc::health::v1::Health::CallbackService {
 public:
  explicit Service(std::string learner_service)
      : learner_service_(std::move(learner_service)) {}

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const HealthCheckRequest* request,
                                  HealthCheckResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (!Known(request->service())) {
      reactor->Finish(
          grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service"));
    } else {
      response->set_status(HealthCheckResponse::NOT_SERVING);
      reactor->Finish(grpc::Status::OK);
    }
    return reactor;
  }

  grpc::ServerWriteReactor<HealthCheckResponse>* Watch(
      grpc::CallbackServerContext*,
      const HealthCheckRequest* request) override {
    return new Watcher(Known(request->service())
                           ? HealthCheckResponse::NOT_SERVING
                           : HealthCheckResponse::SERVICE_UNKNOWN);
  }

 private:
  // Sends the status once, then holds the call open (the status never
  // changes) until the client or the server's shutdown cancels it.
  class Watcher : public grpc::ServerWriteReactor<HealthCheckResponse> {
   public:
    explicit Watcher(HealthCheckResponse::ServingStatus status) {
      response_.set_status(status);
      StartWrite(&response_);
    }
    void OnWriteDone(bool) override {}
    void OnCancel() override { Finish(grpc::Status::CANCELLED); }
    void OnDone() override { delete this; }

   private:
    HealthCheckResponse response_;
  };

  bool Known(const std::string& service) const {
    return service.empty() || service == learner_service_;
  }

  const std::string learner_service_;
};

// Every method but health: UNAVAILABLE, which clients retry.
class RecoveryHealthServer::Refuser : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext*) override {
    class Reactor : public grpc::ServerGenericBidiReactor {
     public:
      Reactor() {
        Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            "the server is recovering its models"));
      }
      void OnDone() override { delete this; }
    };
    return new Reactor;
  }
};

absl::StatusOr<std::unique_ptr<RecoveryHealthServer>>
RecoveryHealthServer::Start(
    const std::string& address,
    std::shared_ptr<grpc::ServerCredentials> credentials,
    const std::string& learner_service) {
  std::unique_ptr<RecoveryHealthServer> server(new RecoveryHealthServer());
  server->service_ = std::make_unique<Service>(learner_service);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, std::move(credentials), &server->port_);
  // A null health service turns gRPC's default one off for this server.
  builder.SetOption(
      std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(nullptr));
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(server->service_.get());
  server->refuser_ = std::make_unique<Refuser>();
  builder.RegisterCallbackGenericService(server->refuser_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    server->server_.reset();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  return server;
}

RecoveryHealthServer::~RecoveryHealthServer() {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now());  // cancels Watch calls
  server_->Wait();
}

}  // namespace streamfit
