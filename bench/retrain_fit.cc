// streamfit-retrain-fit: wall time of each batch fit algorithm on a dense
// regression dataset (default 1,000,000 x 10), median of --runs runs.
//
//   streamfit-retrain-fit [--rows=1000000] [--features=10] [--runs=3]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "core/batch_trainer.h"

ABSL_FLAG(int, rows, 1000000, "rows in the synthetic dataset");
ABSL_FLAG(int, features, 10, "dense features per row");
ABSL_FLAG(int, runs, 3, "runs per algorithm (the median is reported)");

namespace {

// CPU time of this thread (the fits are single-threaded), which shared or
// loaded machines inflate less than wall time.
double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int n = absl::GetFlag(FLAGS_rows), d = absl::GetFlag(FLAGS_features);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0, 1);
  streamfit::ExampleBatch data;
  data.num_features = d;
  data.values.reserve(static_cast<size_t>(n) * d);
  std::vector<float> x(d);
  for (int i = 0; i < n; ++i) {
    double y = 1 + 0.1 * normal(rng);
    for (int j = 0; j < d; ++j) {
      x[j] = (j + 1) * normal(rng) + j;
      y += (j % 3 - 1) * 0.5 * x[j];
    }
    data.Add(x, y);
  }
  streamfit::ModelConfig config;
  config.task = streamfit::Task::kRegression;
  config.num_features = d;
  config.l2 = 0;
  std::printf("%d x %d dense rows, regression, l2 = 0, median of %d runs\n", n,
              d, absl::GetFlag(FLAGS_runs));
  std::printf("%-14s %10s %10s %8s %12s\n", "algorithm", "wall s", "cpu s",
              "steps", "objective");
  for (streamfit::FitAlgorithm a :
       {streamfit::FitAlgorithm::kLeastSquares,
        streamfit::FitAlgorithm::kFullBatchGd, streamfit::FitAlgorithm::kLbfgs,
        streamfit::FitAlgorithm::kMinibatchSgd}) {
    std::vector<double> seconds, cpu;
    streamfit::FitProgress last;
    for (int r = 0; r < absl::GetFlag(FLAGS_runs); ++r) {
      streamfit::FitOptions options;
      options.algorithm = a;
      options.on_progress = [&](const streamfit::FitProgress& p) { last = p; };
      const absl::Time start = absl::Now();
      const double cpu_start = ThreadCpuSeconds();
      absl::StatusOr<streamfit::LinearModel> model =
          streamfit::Fit(config, data, options);
      seconds.push_back(absl::ToDoubleSeconds(absl::Now() - start));
      cpu.push_back(ThreadCpuSeconds() - cpu_start);
      if (!model.ok()) {
        std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
        return 1;
      }
    }
    std::sort(seconds.begin(), seconds.end());
    std::sort(cpu.begin(), cpu.end());
    std::printf("%-14s %10.3f %10.3f %8d %12.6g\n",
                std::string(streamfit::FitAlgorithmName(a)).c_str(),
                seconds[seconds.size() / 2], cpu[cpu.size() / 2], last.step,
                last.objective);
  }
  return 0;
}
