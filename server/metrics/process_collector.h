// The standard process_* metrics of Prometheus client libraries, read from
// /proc/self at scrape time: process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds.
// Thread-safe (stateless).
#ifndef STREAMFIT_SERVER_METRICS_PROCESS_COLLECTOR_H_
#define STREAMFIT_SERVER_METRICS_PROCESS_COLLECTOR_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

namespace streamfit::metrics {

class ProcessCollector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace streamfit::metrics

#endif  // STREAMFIT_SERVER_METRICS_PROCESS_COLLECTOR_H_
