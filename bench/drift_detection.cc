// Drift detectors on synthetic losses: false alarms on a long stationary
// stream, detection delay after the mean loss rises by a factor, and cost
// per sample (docs/LEARNING.md, "Drift detection").
//   streamfit-drift-bench [--stationary=8000000] [--seeds=5]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "core/model/drift_monitor.h"

ABSL_FLAG(int64_t, stationary, 8'000'000, "samples of the stationary stream");
ABSL_FLAG(int, seeds, 5, "streams per rise factor");

namespace streamfit {
namespace {

// Squared errors of standard normal noise: a model's loss at its floor.
std::vector<double> SquaredErrors(int64_t n, double scale, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<double> out(n);
  for (double& x : out) {
    const double e = scale * normal(rng);
    x = e * e;
  }
  return out;
}

void Measure(DriftDetectorKind kind, const char* name) {
  const std::vector<double> stationary =
      SquaredErrors(absl::GetFlag(FLAGS_stationary), 1, 1);
  DriftMonitor monitor(kind);
  uint64_t version = 0;
  const auto start = std::chrono::steady_clock::now();
  for (double loss : stationary) monitor.Add(loss, ++version);
  const double ns = std::chrono::duration<double, std::nano>(
                        std::chrono::steady_clock::now() - start)
                        .count() /
                    stationary.size();
  std::printf("%s: %llu alarms in %zu stationary samples, %.1f ns/sample\n",
              name, static_cast<unsigned long long>(monitor.drifts_detected()),
              stationary.size(), ns);
  for (double factor : {4.0, 2.0, 1.5, 1.2}) {
    double delays = 0;
    int found = 0;
    const int seeds = absl::GetFlag(FLAGS_seeds);
    for (int seed = 0; seed < seeds; ++seed) {
      DriftMonitor m(kind);
      uint64_t v = 0;
      for (double loss : SquaredErrors(200'000, 1, 100 + seed))
        m.Add(loss, ++v);
      for (double loss :
           SquaredErrors(200'000, std::sqrt(factor), 200 + seed)) {
        if (m.Add(loss, ++v)) {
          delays += static_cast<double>(v - 200'000);
          ++found;
          break;
        }
      }
    }
    std::printf(
        "  mean loss x%.1f: found in %d of %d streams, mean delay %.0f "
        "samples\n",
        factor, found, seeds, found > 0 ? delays / found : 0);
  }
}

}  // namespace
}  // namespace streamfit

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  streamfit::Measure(streamfit::DriftDetectorKind::kAdwin, "adwin");
  streamfit::Measure(streamfit::DriftDetectorKind::kPageHinkley,
                     "page-hinkley");
  return 0;
}
