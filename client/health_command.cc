// `streamfit health`: the standard gRPC health check, usable as a Docker
// HEALTHCHECK or a Kubernetes exec probe.
#include <grpcpp/grpcpp.h>

#include <iostream>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/cli_common.h"
#include "client/cli_flags.h"
#include "client/commands.h"
#include "core/json_string.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace streamfit {

absl::Status RunHealth(std::shared_ptr<grpc::Channel> channel,
                       const Args& args) {
  if (!args.empty()) {
    return UsageError("usage: streamfit health [--service NAME] [--json]");
  }
  auto stub = grpc::health::v1::Health::NewStub(std::move(channel));
  grpc::ClientContext context;
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_timeout)));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(absl::GetFlag(FLAGS_service));
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  const std::string name =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
          response.status());
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << "{\"service\": " << JsonString(request.service())
              << ", \"status\": \"" << name << "\"}\n";
  } else {
    std::cout << name << "\n";
  }
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(
        absl::StrCat("service '", request.service(), "' is ", name));
  }
  return absl::OkStatus();
}

}  // namespace streamfit
