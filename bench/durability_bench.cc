// Durability measurements: Observe admission throughput through the learner and
// sample log for each fsync policy (producers waiting for their acks, one
// batch in flight each, as ObserveStream does), and the recovery time of a
// model from its log. Medians of --runs runs.
//
//   streamfit-durability-bench --dir=/tmp/sfbench --samples=1000000
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/learner.h"
#include "core/storage/sample_log.h"
#include "server/model_store.h"

ABSL_FLAG(std::string, dir, "/tmp/streamfit-durability-bench",
          "scratch directory (removed first)");
ABSL_FLAG(int, runs, 3, "runs per measurement; the median is reported");
ABSL_FLAG(double, seconds, 2, "duration of one throughput run");
ABSL_FLAG(int, batch, 64, "samples per Observe batch");
ABSL_FLAG(uint64_t, samples, 1'000'000, "samples logged for recovery");

namespace streamfit {
namespace {

constexpr uint32_t kFeatures = 10;

ExampleBatch MakeBatch(std::mt19937& rng, int n) {
  std::normal_distribution<float> normal(0, 1);
  ExampleBatch b;
  b.num_features = kFeatures;
  for (int i = 0; i < n; ++i) {
    float x[kFeatures];
    for (float& v : x) v = normal(rng);
    b.Add(x, 3 * x[0] - 2 * x[1] + normal(rng));
  }
  return b;
}

LinearModel NewModel() {
  ModelConfig config;
  config.task = Task::kRegression;
  config.num_features = kFeatures;
  return *LinearModel::Create(config);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Samples per second acked to `producers` threads; policy empty = no log.
double Throughput(const std::string& policy, int producers) {
  const std::string dir = absl::GetFlag(FLAGS_dir) + "/tp";
  std::filesystem::remove_all(dir);
  std::unique_ptr<SampleLog> log;
  if (!policy.empty()) {
    SampleLog::Options options;
    options.fsync = *ParseFsyncPolicy(policy);
    log = *SampleLog::Open(dir, options, nullptr);
  }
  std::atomic<uint64_t> acked{0};
  std::atomic<bool> stop{false};
  double elapsed;
  {
    Learner learner(NewModel(), {}, log.get());
    std::vector<std::thread> threads;
    const absl::Time start = absl::Now();
    for (int p = 0; p < producers; ++p) {
      threads.emplace_back([&, p] {
        std::mt19937 rng(p);
        const ExampleBatch batch = MakeBatch(rng, absl::GetFlag(FLAGS_batch));
        while (!stop.load()) {
          absl::Notification done;
          learner.Submit(batch, [&](absl::StatusOr<uint64_t> v) {
            if (v.ok()) acked += batch.size();
            done.Notify();
          });
          done.WaitForNotification();
        }
      });
    }
    absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_seconds)));
    stop = true;
    for (auto& t : threads) t.join();
    elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  }
  return acked.load() / elapsed;
}

// Seconds to recover a model whose log holds `samples` samples (no
// checkpoint: the whole log is replayed).
double RecoveryTime(uint64_t samples) {
  const std::string dir = absl::GetFlag(FLAGS_dir) + "/recovery";
  std::filesystem::remove_all(dir);
  StorageOptions storage;
  storage.fsync = *ParseFsyncPolicy("never");
  storage.checkpoint_every_samples = ~uint64_t{0};
  {
    auto store = *ModelStore::Open(dir, storage, {});
    ModelConfig config = NewModel().config();
    auto model = *store->Create("bench", config);
    std::mt19937 rng(1);
    const ExampleBatch batch = MakeBatch(rng, 1000);
    for (uint64_t sent = 0; sent < samples; sent += batch.size()) {
      absl::Notification queued;  // wait for room, as a producer does
      model->learner.Submit(batch,
                            [&](absl::StatusOr<uint64_t>) { queued.Notify(); });
      queued.WaitForNotification();
    }
    model->learner.Stop();
  }
  auto store = *ModelStore::Open(dir, storage, {});
  const absl::Time start = absl::Now();
  auto models = *store->RecoverAll();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (models.size() != 1 || models[0]->learner.Current()->version() < samples) {
    std::fprintf(stderr, "recovery bench: wrong recovered version\n");
    std::exit(1);
  }
  return seconds;
}

}  // namespace
}  // namespace streamfit

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int runs = absl::GetFlag(FLAGS_runs);
  std::printf(
      "Observe admission throughput, batches of %d x %u floats, "
      "acked (median of %d runs of %.1f s)\n",
      absl::GetFlag(FLAGS_batch), streamfit::kFeatures, runs,
      absl::GetFlag(FLAGS_seconds));
  for (const char* policy : {"", "never", "interval:100", "always"}) {
    for (int producers : {1, 8}) {
      std::vector<double> r;
      for (int i = 0; i < runs; ++i) {
        r.push_back(streamfit::Throughput(policy, producers));
      }
      std::printf("  fsync=%-12s producers=%d  %12.0f samples/s\n",
                  *policy ? policy : "(no log)", producers,
                  streamfit::Median(r));
    }
  }
  const uint64_t samples = absl::GetFlag(FLAGS_samples);
  std::vector<double> r;
  for (int i = 0; i < runs; ++i) r.push_back(streamfit::RecoveryTime(samples));
  std::printf(
      "Recovery of %llu logged samples (no checkpoint, full replay): "
      "%.3f s median of %d\n",
      static_cast<unsigned long long>(samples), streamfit::Median(r), runs);
  std::filesystem::remove_all(absl::GetFlag(FLAGS_dir));
  return 0;
}
