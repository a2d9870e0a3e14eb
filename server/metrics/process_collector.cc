#include "server/metrics/process_collector.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace streamfit::metrics {
namespace {

prometheus::MetricFamily Family(const char* name, const char* help,
                                prometheus::MetricType type, double value) {
  prometheus::MetricFamily family{name, help, type, {}};
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
  return family;
}

std::string ReadAll(const char* path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The boot time in seconds since the epoch ("btime" in /proc/stat).
double BootTime() {
  std::istringstream stat(ReadAll("/proc/stat"));
  std::string line;
  while (std::getline(stat, line)) {
    if (line.rfind("btime ", 0) == 0) {
      double btime = 0;
      if (absl::SimpleAtod(line.substr(6), &btime)) return btime;
    }
  }
  return 0;
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  // /proc/self/stat: the fields after the parenthesized command name.
  const std::string stat = ReadAll("/proc/self/stat");
  const size_t close = stat.rfind(')');
  if (close != std::string::npos && close + 2 < stat.size()) {
    const std::vector<std::string> fields =
        absl::StrSplit(stat.substr(close + 2), ' ');
    // fields[0] is field 3 (state): utime is field 14, stime 15,
    // starttime 22, vsize 23, rss 24.
    auto field = [&](int number) {
      double value = 0;
      const size_t index = number - 3;
      return index < fields.size() && absl::SimpleAtod(fields[index], &value)
                 ? value
                 : 0.0;
    };
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    families.push_back(Family("process_cpu_seconds_total",
                              "User and system CPU time spent, in seconds",
                              MetricType::Counter,
                              (field(14) + field(15)) / ticks));
    families.push_back(Family("process_start_time_seconds",
                              "Start time of the process since the epoch",
                              MetricType::Gauge,
                              BootTime() + field(22) / ticks));
    families.push_back(Family("process_virtual_memory_bytes",
                              "Virtual memory size in bytes", MetricType::Gauge,
                              field(23)));
    families.push_back(Family("process_resident_memory_bytes",
                              "Resident memory size in bytes",
                              MetricType::Gauge, field(24) * page));
  }
  std::error_code ec;
  double fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end;
       !ec && it != end; it.increment(ec)) {
    ++fds;
  }
  families.push_back(Family("process_open_fds", "Open file descriptors",
                            MetricType::Gauge, fds));
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    families.push_back(
        Family("process_max_fds", "Limit on open file descriptors",
               MetricType::Gauge, static_cast<double>(limit.rlim_cur)));
  }
  return families;
}

}  // namespace streamfit::metrics
