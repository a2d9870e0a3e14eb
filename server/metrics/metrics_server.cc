#include "server/metrics/metrics_server.h"

#include <exception>

#include "absl/strings/str_cat.h"

namespace streamfit::metrics {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address,
    const std::vector<std::shared_ptr<prometheus::Collectable>>& sources) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(address, 1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  for (const auto& source : sources) exposer->RegisterCollectable(source);
  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address));
  }
  return std::unique_ptr<MetricsServer>(
      new MetricsServer(sources, std::move(exposer), ports.front()));
}

}  // namespace streamfit::metrics
