// streamfit-bench --mode=server-resources: what a model costs a server
// process. For each server binary given (e.g. an older build and this one,
// measured alternately in one run), it starts the binary on loopback with a
// fresh data directory and measures:
//   - after creating `models` models (regression, 10 dense features): the
//     process's thread count and resident memory (VmRSS);
//   - in a fresh process, streaming `features`-feature samples to one model
//     as fast as one connection sends them for `duration_s`: the peak
//     resident memory (VmHWM), which the learner queue's bounds govern.
// Prints each run and the medians over `runs`.
#ifndef STREAMFIT_BENCH_STREAMFIT_BENCH_SERVER_RESOURCES_H_
#define STREAMFIT_BENCH_STREAMFIT_BENCH_SERVER_RESOURCES_H_

#include <cstdint>
#include <string>
#include <vector>

namespace streamfit::bench {

struct ServerResourcesOptions {
  std::vector<std::string> binaries;  // streamfit-server executables
  int models = 1000;
  uint32_t features = 1000;
  double duration_s = 10;
  int runs = 3;
};

// Returns the process exit code (0, or 1 if a server failed).
int RunServerResources(const ServerResourcesOptions& options);

}  // namespace streamfit::bench

#endif  // STREAMFIT_BENCH_STREAMFIT_BENCH_SERVER_RESOURCES_H_
