// Prints this process's resident memory (VmRSS) and its peak (VmHWM) every
// few seconds on a thread of its own, to show memory stays flat under load.
#ifndef STREAMFIT_BENCH_STREAMFIT_BENCH_RSS_SAMPLER_H_
#define STREAMFIT_BENCH_STREAMFIT_BENCH_RSS_SAMPLER_H_

#include <string>
#include <thread>

#include "absl/synchronization/notification.h"

namespace streamfit::bench {

// The value in kB of a "Name:   123 kB" line of /proc/self/status (VmRSS,
// VmHWM, ...), or -1.
long ProcStatusKb(const std::string& name);

// Samples from construction until destruction. Not copyable.
class RssSampler {
 public:
  explicit RssSampler(double interval_s);
  ~RssSampler();
  RssSampler(const RssSampler&) = delete;
  RssSampler& operator=(const RssSampler&) = delete;

 private:
  absl::Notification done_;
  std::thread thread_;
};

}  // namespace streamfit::bench

#endif  // STREAMFIT_BENCH_STREAMFIT_BENCH_RSS_SAMPLER_H_
