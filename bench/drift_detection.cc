// Drift detectors on synthetic losses: false alarms on a long stationary
// stream, detection delay after the mean loss rises by a factor, and cost
// per sample; then with real models: false alarms on the shared datasets
// shuffled, and an abrupt change of the true weights under the alert and
// reset policies (docs/LEARNING.md, "Drift detection").
//   streamfit-drift-bench [--stationary=8000000] [--seeds=5]
//                         [--data_dir=tests/data] [--passes=200]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "core/data/csv_reader.h"
#include "core/model/drift_monitor.h"
#include "core/model/model_trainer.h"

ABSL_FLAG(int64_t, stationary, 8'000'000, "samples of the stationary stream");
ABSL_FLAG(int, seeds, 5, "streams per rise factor");
ABSL_FLAG(std::string, data_dir, "tests/data", "the shared datasets");
ABSL_FLAG(int, passes, 200, "shuffled passes over each shared dataset");
ABSL_FLAG(double, loss_scale, 1,
          "the synthetic losses' unit: their mean before a rise");

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
  const double unit = std::sqrt(absl::GetFlag(FLAGS_loss_scale));
  const std::vector<double> stationary =
      SquaredErrors(absl::GetFlag(FLAGS_stationary), unit, 1);
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
      for (double loss : SquaredErrors(200'000, unit, 100 + seed))
        m.Add(loss, ++v);
      for (double loss :
           SquaredErrors(200'000, unit * std::sqrt(factor), 200 + seed)) {
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

// A near-perfect classifier's losses: mostly ~0.001 nats, and a mistake of
// ~3 nats at rate p. Stationary: every alarm is false.
void RareMistakes(DriftDetectorKind kind, const char* name) {
  for (double p : {1e-3, 1e-4}) {
    uint64_t alarms = 0;
    for (uint64_t seed = 0; seed < 3; ++seed) {
      DriftMonitor monitor(kind);
      std::mt19937_64 rng(seed);
      std::bernoulli_distribution mistake(p);
      std::exponential_distribution<double> small(1000.0);
      for (uint64_t v = 1; v <= 5'000'000; ++v) {
        monitor.Add(mistake(rng) ? 3.0 + small(rng) * 1000 : small(rng), v);
      }
      alarms += monitor.drifts_detected();
    }
    std::printf("%s: %llu alarms in 3 x 5 M losses with mistakes at p = %g\n",
                name, static_cast<unsigned long long>(alarms), p);
  }
}

ModelTrainer Trainer(Task task, uint32_t features, uint32_t classes,
                     DriftDetectorKind kind, DriftPolicy policy) {
  ModelConfig config;
  config.task = task;
  config.num_features = features;
  config.num_classes = classes;
  config.drift_detector = kind;
  config.drift_policy = policy;
  return *ModelTrainer::Create(config);
}

// A default model (but the detector) learning `passes` shuffled passes over
// each shared dataset, one after another: a stationary stream of real
// losses, on which every alarm is false.
void ShuffledDatasets(DriftDetectorKind kind, const char* name) {
  struct Shared {
    const char* file;
    Task task;
    uint32_t classes;
  };
  for (const Shared& d :
       {Shared{"diabetes.reg.csv", Task::kRegression, 0},
        Shared{"breast_cancer.bin.csv", Task::kBinary, 0},
        Shared{"digits.multi10.csv", Task::kMulticlass, 10}}) {
    const absl::StatusOr<ExampleBatch> data =
        ReadCsvFile(absl::GetFlag(FLAGS_data_dir) + "/" + d.file);
    if (!data.ok()) {
      std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
      std::exit(1);
    }
    ModelTrainer trainer = Trainer(d.task, data->num_features, d.classes, kind,
                                   DriftPolicy::kAlert);
    std::vector<size_t> order(data->size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::mt19937_64 rng(7);
    for (int pass = 0; pass < absl::GetFlag(FLAGS_passes); ++pass) {
      std::shuffle(order.begin(), order.end(), rng);
      for (size_t i : order) {
        trainer.Learn(data->view(i), data->labels[i], data->weights[i]);
      }
    }
    const MetricsSummary m = trainer.model().metrics();
    std::printf(
        "%s on %s shuffled: %llu alarms in %llu samples (%.2f per "
        "million)\n",
        name, d.file, static_cast<unsigned long long>(m.drifts_detected),
        static_cast<unsigned long long>(trainer.version()),
        1e6 * static_cast<double>(m.drifts_detected) /
            static_cast<double>(trainer.version()));
  }
}

// y = w . x + noise on 5 standard normal features, w negated after sample
// 20,000 of 40,000 (as in tests/core/model/linear_model_drift_test.cc):
// the first alarm after the change, and the mean squared error of the
// 20,000 samples before and after it under each policy.
void AbruptChange(DriftDetectorKind kind, const char* name) {
  constexpr uint64_t kChange = 20'000;
  for (DriftPolicy policy : {DriftPolicy::kAlert, DriftPolicy::kReset}) {
    double delays = 0, before = 0, after = 0;
    int found = 0;
    const int seeds = absl::GetFlag(FLAGS_seeds);
    for (int seed = 0; seed < seeds; ++seed) {
      std::mt19937 rng(seed + 1);
      std::normal_distribution<float> normal;
      float w[5];
      for (float& v : w) v = normal(rng);
      ModelTrainer trainer = Trainer(Task::kRegression, 5, 0, kind, policy);
      uint64_t first = 0;
      double mse_before = 0;
      std::vector<float> x(5);
      for (uint64_t t = 1; t <= 2 * kChange; ++t) {
        double score = 0;
        for (int j = 0; j < 5; ++j) {
          x[j] = normal(rng);
          score += (t > kChange ? -w[j] : w[j]) * x[j];
        }
        trainer.Learn(ExampleView{x, {}, {}, {}}, score + 0.3 * normal(rng), 1);
        const MetricsSummary m = trainer.model().metrics();
        if (t == kChange) mse_before = m.progressive_mse;
        if (first == 0 && m.last_drift_version > kChange) {
          first = m.last_drift_version;
        }
      }
      const double mse_all = trainer.model().metrics().progressive_mse;
      before += mse_before;
      after += 2 * mse_all - mse_before;  // the mean of the second half
      if (first > 0) {
        delays += static_cast<double>(first - kChange);
        ++found;
      }
    }
    std::printf(
        "%s, policy %s: change found in %d of %d streams, mean delay %.0f "
        "samples; progressive MSE before %.5f, after %.5f\n",
        name, policy == DriftPolicy::kAlert ? "alert" : "reset", found, seeds,
        found > 0 ? delays / found : 0, before / seeds, after / seeds);
  }
}

}  // namespace
}  // namespace streamfit

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  streamfit::Measure(streamfit::DriftDetectorKind::kAdwin, "adwin");
  streamfit::Measure(streamfit::DriftDetectorKind::kPageHinkley,
                     "page-hinkley");
  streamfit::RareMistakes(streamfit::DriftDetectorKind::kAdwin, "adwin");
  for (const auto& [kind, name] :
       {std::pair{streamfit::DriftDetectorKind::kAdwin, "adwin"},
        std::pair{streamfit::DriftDetectorKind::kPageHinkley,
                  "page-hinkley"}}) {
    streamfit::ShuffledDatasets(kind, name);
    streamfit::AbruptChange(kind, name);
  }
  return 0;
}
