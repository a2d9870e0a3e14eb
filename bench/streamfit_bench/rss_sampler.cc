#include "bench/streamfit_bench/rss_sampler.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace streamfit::bench {

long ProcStatusKb(const std::string& name) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(name + ":", 0) == 0) {
      return std::stol(line.substr(name.size() + 1));
    }
  }
  return -1;
}

RssSampler::RssSampler(double interval_s)
    : thread_([this, interval_s] {
        const absl::Time start = absl::Now();
        do {
          std::printf("rss t=%6.1f s VmRSS %ld kB VmHWM %ld kB\n",
                      absl::ToDoubleSeconds(absl::Now() - start),
                      ProcStatusKb("VmRSS"), ProcStatusKb("VmHWM"));
          std::fflush(stdout);
        } while (
            !done_.WaitForNotificationWithTimeout(absl::Seconds(interval_s)));
      }) {}

RssSampler::~RssSampler() {
  done_.Notify();
  thread_.join();
}

}  // namespace streamfit::bench
