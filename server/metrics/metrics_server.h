// Serves /metrics in the Prometheus text format over HTTP (prometheus-cpp's
// Exposer, on civetweb): the given registries and collectors, read at each
// scrape. Thread-safe; stops serving when destroyed, so the collected
// objects must outlive it.
#ifndef STREAMFIT_SERVER_METRICS_METRICS_SERVER_H_
#define STREAMFIT_SERVER_METRICS_METRICS_SERVER_H_

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace streamfit::metrics {

class MetricsServer {
 public:
  // Listens on `address` ("host:port"; port 0 picks a free port).
  // UNAVAILABLE if it cannot.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address,
      const std::vector<std::shared_ptr<prometheus::Collectable>>& sources);

  int port() const { return port_; }

 private:
  MetricsServer(std::vector<std::shared_ptr<prometheus::Collectable>> sources,
                std::unique_ptr<prometheus::Exposer> exposer, int port)
      : sources_(std::move(sources)),
        exposer_(std::move(exposer)),
        port_(port) {}

  // The exposer holds weak pointers: the server keeps the sources alive.
  const std::vector<std::shared_ptr<prometheus::Collectable>> sources_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_;
};

}  // namespace streamfit::metrics

#endif  // STREAMFIT_SERVER_METRICS_METRICS_SERVER_H_
