// streamfit-bench: load generator for a streamfit server. By default it
// starts two servers in this process on 127.0.0.1:0, the real streamfit
// server and a no-op server (same service and messages, handlers that parse
// and drop), runs the same load against each (alternating, --runs times) and
// reports streamfit's median next to the no-op ceiling measured in the same
// run. --target=host:port drives an external server instead.
//
//   streamfit-bench --mode=observe-stream --batch=64 --messages=20000
//   streamfit-bench --mode=observe-unary --batch=64 --connections=4
//   streamfit-bench --mode=predict [--qps=2000 | --concurrency=1]
//   streamfit-bench --mode=mixed --duration_s=10   (predict idle vs loaded)
//   streamfit-bench --mode=abandoned-waits --calls=100000
//     (min_version Predicts given up by their deadline: RSS, waiters left)
//   streamfit-bench --mode=server-resources --models=1000 --features=1000
//     --server_binaries=OLD,NEW   (threads and memory of server processes)
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "bench/streamfit_bench/abandoned_waits.h"
#include "bench/streamfit_bench/load.h"
#include "bench/streamfit_bench/noop_service.h"
#include "bench/streamfit_bench/rss_sampler.h"
#include "bench/streamfit_bench/server_resources.h"
#include "core/storage/sample_log.h"
#include "server/server.h"

ABSL_FLAG(std::string, mode, "observe-stream",
          "observe-stream, observe-unary, predict, mixed, abandoned-waits or "
          "server-resources");
ABSL_FLAG(std::string, target, "",
          "host:port of an external server to drive instead of the two "
          "in-process servers");
ABSL_FLAG(std::string, servers, "both",
          "in-process servers to measure: both, streamfit or noop");
ABSL_FLAG(int, runs, 3, "repetitions per server; medians are reported");
ABSL_FLAG(int, challengers, 0,
          "streamfit server: challengers learning beside the model (update "
          "rules adagrad, ftrl, adam, sgd in turn)");
ABSL_FLAG(uint32_t, features, 10, "dense features per example");
ABSL_FLAG(uint32_t, sparse, 0,
          "if > 0: this many hashed features per example (Features.indices, "
          "uniform 32-bit, value 1; Observe sends Examples, not a DenseBatch) "
          "instead of --features dense ones; the model has 2^18 slots");
ABSL_FLAG(std::string, sparse_form, "indices",
          "with --sparse: how the features travel: indices (Features.indices), "
          "named (Features.named in two namespaces) or hashed (those named "
          "features hashed by the client, Features.hashes)");
ABSL_FLAG(bool, quadratic, false,
          "with --sparse_form=named or hashed: the model also learns the "
          "interactions of namespaces a and b (VW's -q ab)");
ABSL_FLAG(std::string, serving, "auto",
          "the model's serving: auto (the default), live or averaged");
ABSL_FLAG(int, batch, 64, "examples per Observe message");
ABSL_FLAG(int64_t, messages, 20000, "Observe messages per connection");
ABSL_FLAG(int, messages_per_call, 1,
          "observe-unary: messages per Observe call (a client stream)");
ABSL_FLAG(int, connections, 1, "Observe channels (one stream each)");
ABSL_FLAG(double, observe_rate, 0,
          "observe-stream and mixed: samples/s per stream, paced; 0 for flat "
          "out (mixed: the same load on both servers)");
ABSL_FLAG(double, duration_s, 0,
          "observe: run this long instead of --messages; predict and mixed: "
          "measuring time per phase (default 5)");
ABSL_FLAG(double, qps, 0, "predict: open-loop rate; 0 for a closed loop");
ABSL_FLAG(int, concurrency, 1, "predict closed loop: calls in flight");
ABSL_FLAG(bool, load_process, false,
          "mixed: run the Observe load in a child process (its own CPU "
          "scheduling) instead of threads of this one");
ABSL_FLAG(std::string, hist_out, "",
          "mixed/predict: write latency histograms to PREFIX_<server>_<phase>"
          ".dat (upper_us fraction)");
ABSL_FLAG(double, rss_interval_s, 0,
          "print this process's VmRSS/VmHWM every this many seconds");
ABSL_FLAG(uint64_t, publish_every, 1024, "streamfit server: publish_every");
ABSL_FLAG(uint64_t, publish_interval_us, 0,
          "streamfit server: publish_interval_us (0: off)");
ABSL_FLAG(uint64_t, queue_capacity, 1 << 16,
          "streamfit server: learner queue capacity (samples)");
ABSL_FLAG(std::string, fsync, "always",
          "streamfit server: when an Observe ack is sent (always, "
          "interval:<ms> or never), as the server's --fsync");
ABSL_FLAG(int64_t, calls, 100000, "abandoned-waits: Predict calls");
ABSL_FLAG(bool, csv, false, "also print one CSV line per result");
ABSL_FLAG(std::vector<std::string>, server_binaries,
          {"server/streamfit-server"},
          "server-resources: streamfit-server executables to compare");
ABSL_FLAG(int, models, 1000, "server-resources: models to create");

namespace streamfit::bench {
namespace {

struct Target {
  std::string name;     // "streamfit", "noop" or "target"
  std::string address;  // host:port
};

// The servers a run measures; owns the in-process ones.
class Servers {
 public:
  bool Start() {
    const std::string which = absl::GetFlag(FLAGS_servers);
    if (!absl::GetFlag(FLAGS_target).empty()) {
      targets_.push_back({"target", absl::GetFlag(FLAGS_target)});
      return true;
    }
    if (which == "both" || which == "noop") {
      grpc::ServerBuilder builder;
      int port = 0;
      builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                               &port);
      builder.SetMaxReceiveMessageSize(64 << 20);
      builder.RegisterService(&noop_service_);
      noop_ = builder.BuildAndStart();
      if (noop_ == nullptr || port == 0) return false;
      targets_.push_back({"noop", absl::StrCat("127.0.0.1:", port)});
    }
    if (which == "both" || which == "streamfit") {
      data_dir_ = std::filesystem::temp_directory_path() /
                  absl::StrCat("streamfit-bench-", getpid());
      StreamfitServer::Options options;
      options.address = "127.0.0.1:0";
      options.data_dir = data_dir_.string();
      options.learner.publish_every = absl::GetFlag(FLAGS_publish_every);
      options.learner.publish_interval =
          absl::Microseconds(absl::GetFlag(FLAGS_publish_interval_us));
      options.learner.queue_capacity = absl::GetFlag(FLAGS_queue_capacity);
      absl::StatusOr<FsyncPolicy> fsync =
          ParseFsyncPolicy(absl::GetFlag(FLAGS_fsync));
      if (!fsync.ok()) {
        std::fprintf(stderr, "--fsync: %s\n",
                     fsync.status().ToString().c_str());
        return false;
      }
      options.storage.fsync = *fsync;
      auto server = StreamfitServer::Start(options);
      if (!server.ok()) {
        std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
        return false;
      }
      streamfit_ = *std::move(server);
      targets_.push_back({"streamfit", streamfit_->address()});
    }
    return !targets_.empty();
  }
  ~Servers() {
    if (noop_) noop_->Shutdown();
    if (streamfit_) streamfit_->Shutdown();
    if (!data_dir_.empty()) std::filesystem::remove_all(data_dir_);
  }
  const std::vector<Target>& targets() const { return targets_; }
  StreamfitServer* streamfit() { return streamfit_.get(); }

 private:
  NoopLearnerService noop_service_;
  std::unique_ptr<grpc::Server> noop_;
  std::unique_ptr<StreamfitServer> streamfit_;
  std::filesystem::path data_dir_;
  std::vector<Target> targets_;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2]
                      : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// --sparse_form, or nullopt if it names no form.
std::optional<SparseForm> SparseFormFlag() {
  const std::string form = absl::GetFlag(FLAGS_sparse_form);
  if (form == "indices") return SparseForm::kIndices;
  if (form == "named") return SparseForm::kNamed;
  if (form == "hashed") return SparseForm::kHashed;
  return std::nullopt;
}

std::optional<v1::Serving> ServingFlag() {
  const std::string serving = absl::GetFlag(FLAGS_serving);
  if (serving == "auto") return v1::SERVING_AUTO;
  if (serving == "live") return v1::SERVING_LIVE;
  if (serving == "averaged") return v1::SERVING_AVERAGED;
  return std::nullopt;
}

ObserveLoad ObserveFlags() {
  ObserveLoad load;
  load.features = absl::GetFlag(FLAGS_features);
  load.sparse = absl::GetFlag(FLAGS_sparse);
  load.sparse_form = SparseFormFlag().value_or(SparseForm::kIndices);
  load.batch = absl::GetFlag(FLAGS_batch);
  load.messages = absl::GetFlag(FLAGS_messages);
  load.messages_per_call = std::max(1, absl::GetFlag(FLAGS_messages_per_call));
  load.connections = absl::GetFlag(FLAGS_connections);
  load.duration_s = absl::GetFlag(FLAGS_duration_s);
  load.rate = absl::GetFlag(FLAGS_observe_rate);
  return load;
}

PredictLoad PredictFlags() {
  PredictLoad load;
  load.features = absl::GetFlag(FLAGS_features);
  load.sparse = absl::GetFlag(FLAGS_sparse);
  load.qps = absl::GetFlag(FLAGS_qps);
  load.concurrency = absl::GetFlag(FLAGS_concurrency);
  const double d = absl::GetFlag(FLAGS_duration_s);
  load.duration_s = d > 0 ? d : 5;
  return load;
}

// Observe modes: samples/s per server, medians and the ratio to no-op.
int RunObserve(const Servers& servers, bool stream) {
  const ObserveLoad load = ObserveFlags();
  const int runs = absl::GetFlag(FLAGS_runs);
  std::printf(
      "%s: %d x %u %s features per message, %d connection(s)%s, %s\n",
      stream ? "observe-stream" : "observe-unary", load.batch,
      load.sparse > 0 ? load.sparse : load.features,
      load.sparse == 0 ? "dense" : absl::GetFlag(FLAGS_sparse_form).c_str(),
      load.connections,
      stream
          ? ""
          : absl::StrCat(", ", load.messages_per_call, " message(s) per call")
                .c_str(),
      load.duration_s > 0
          ? absl::StrCat(load.duration_s, " s").c_str()
          : absl::StrCat(load.messages, " messages each").c_str());
  std::vector<std::vector<double>> rates(servers.targets().size());
  for (int r = 0; r < runs; ++r) {
    for (size_t t = 0; t < servers.targets().size(); ++t) {
      const Target& target = servers.targets()[t];
      const ObserveResult result = stream
                                       ? RunObserveStream(target.address, load)
                                       : RunObserveUnary(target.address, load);
      if (!result.error.empty()) {
        std::printf("  %s run %d: error %s\n", target.name.c_str(), r + 1,
                    result.error.c_str());
        return 1;
      }
      rates[t].push_back(result.SamplesPerSecond());
      std::printf(
          "  %-9s run %d: %llu samples, acked in %.3f s, applied in %.3f s: "
          "%.0f samples/s (%.0f messages/s)\n",
          target.name.c_str(), r + 1,
          static_cast<unsigned long long>(result.samples), result.acked_seconds,
          result.applied_seconds, result.SamplesPerSecond(),
          result.SamplesPerSecond() / load.batch);
    }
  }
  double noop = 0, streamfit = 0;
  for (size_t t = 0; t < servers.targets().size(); ++t) {
    const double median = Median(rates[t]);
    const std::string& name = servers.targets()[t].name;
    if (name == "noop") noop = median;
    if (name != "noop") streamfit = median;
    std::printf("  %-9s median of %d: %.0f samples/s\n", name.c_str(), runs,
                median);
    if (absl::GetFlag(FLAGS_csv)) {
      std::printf("csv,%s,%s,%d,%u,%d,%.0f\n", stream ? "stream" : "unary",
                  name.c_str(), load.batch, load.features, load.connections,
                  median);
    }
  }
  if (noop > 0 && streamfit > 0) {
    std::printf("  streamfit / no-op ceiling: %.2f\n", streamfit / noop);
  }
  return 0;
}

void PrintLatency(const std::string& label, const PredictResult& r) {
  std::printf("%s: %.0f calls/s, %llu errors%s%s\n%s", label.c_str(),
              r.calls_per_second, static_cast<unsigned long long>(r.errors),
              r.first_error.empty() ? "" : ", first: ", r.first_error.c_str(),
              FormatSummary(r.latency).c_str());
}

void WriteHistogram(const std::string& server, const std::string& phase,
                    const PredictResult& r) {
  const std::string prefix = absl::GetFlag(FLAGS_hist_out);
  if (prefix.empty()) return;
  std::ofstream(absl::StrCat(prefix, "_", server, "_", phase, ".dat"))
      << HistogramData(r.latency);
}

// Predict mode: latency per server, medians of p99 across runs.
int RunPredictMode(const Servers& servers) {
  const PredictLoad load = PredictFlags();
  const int runs = absl::GetFlag(FLAGS_runs);
  for (const Target& target : servers.targets()) {
    std::vector<double> p50, p99;
    for (int r = 0; r < runs; ++r) {
      const PredictResult result = RunPredict(target.address, load);
      PrintLatency(absl::StrCat(target.name, " predict run ", r + 1), result);
      p50.push_back(result.latency.p50_us);
      p99.push_back(result.latency.p99_us);
      if (r == 0) WriteHistogram(target.name, "idle", result);
    }
    std::printf("%s predict median of %d: p50 %.1f us, p99 %.1f us\n",
                target.name.c_str(), runs, Median(p50), Median(p99));
  }
  return 0;
}

// Starts this binary as an Observe load against `address` for `seconds`.
pid_t SpawnObserveLoad(const std::string& address, double seconds) {
  const ObserveLoad load = ObserveFlags();
  std::vector<std::string> args = {
      "/proc/self/exe",
      "--mode=observe-stream",
      absl::StrCat("--target=", address),
      "--runs=1",
      absl::StrCat("--duration_s=", seconds),
      absl::StrCat("--batch=", load.batch),
      absl::StrCat("--features=", load.features),
      absl::StrCat("--sparse=", load.sparse),
      absl::StrCat("--sparse_form=", absl::GetFlag(FLAGS_sparse_form)),
      absl::StrCat("--connections=", load.connections),
      absl::StrCat("--observe_rate=", load.rate)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
    return -1;
  }
  return pid;
}

// Mixed mode: Predict latency idle, then while Observe runs flat out (or at
// --observe_rate).
int RunMixed(const Servers& servers) {
  const PredictLoad predict = PredictFlags();
  const int runs = absl::GetFlag(FLAGS_runs);
  const bool separate = absl::GetFlag(FLAGS_load_process);
  ObserveLoad observe = ObserveFlags();
  for (const Target& target : servers.targets()) {
    std::vector<double> idle_p99, load_p99, idle_p50, load_p50, rates;
    for (int r = 0; r < runs; ++r) {
      const PredictResult idle = RunPredict(target.address, predict);
      PrintLatency(absl::StrCat(target.name, " run ", r + 1, " idle"), idle);

      // The Observe load starts 1 s before and ends after the measurement.
      observe.duration_s = predict.duration_s + 3;
      std::atomic<bool> stop{false};
      ObserveResult observed;
      std::thread load_thread;
      pid_t child = -1;
      if (separate) {
        child = SpawnObserveLoad(target.address, observe.duration_s);
        if (child < 0) {
          std::fprintf(stderr, "cannot start the load process\n");
          return 1;
        }
      } else {
        load_thread = std::thread([&] {
          observed = RunObserveStream(target.address, observe, &stop);
        });
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
      const PredictResult loaded = RunPredict(target.address, predict);
      stop.store(true);
      if (separate) {
        int status = 0;
        waitpid(child, &status, 0);
      } else {
        load_thread.join();
        rates.push_back(observed.SamplesPerSecond());
        std::printf("%s run %d observe load: %.0f samples/s%s%s\n",
                    target.name.c_str(), r + 1, observed.SamplesPerSecond(),
                    observed.error.empty() ? "" : ", error ",
                    observed.error.c_str());
      }
      PrintLatency(absl::StrCat(target.name, " run ", r + 1, " under load"),
                   loaded);
      idle_p50.push_back(idle.latency.p50_us);
      idle_p99.push_back(idle.latency.p99_us);
      load_p50.push_back(loaded.latency.p50_us);
      load_p99.push_back(loaded.latency.p99_us);
      if (r == 0) {
        WriteHistogram(target.name, "idle", idle);
        WriteHistogram(target.name, "load", loaded);
      }
    }
    std::printf(
        "%s mixed median of %d: idle p50 %.1f us p99 %.1f us; under load "
        "p50 %.1f us p99 %.1f us; p99 ratio %.2f\n",
        target.name.c_str(), runs, Median(idle_p50), Median(idle_p99),
        Median(load_p50), Median(load_p99),
        Median(load_p99) / Median(idle_p99));
    if (absl::GetFlag(FLAGS_csv)) {
      std::printf("csv,mixed,%s,%.1f,%.1f,%.1f,%.1f,%.0f\n",
                  target.name.c_str(), Median(idle_p50), Median(idle_p99),
                  Median(load_p50), Median(load_p99), Median(rates));
    }
  }
  return 0;
}

}  // namespace
}  // namespace streamfit::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Load generator for streamfit; compares with an in-process no-op "
      "server.");
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil is built with mutex deadlock detection on: a cycle graph
  // update on every lock, measurable on the Observe hot path.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  using namespace streamfit::bench;  // NOLINT: main only
  if (!SparseFormFlag().has_value()) {
    std::fprintf(stderr,
                 "streamfit-bench: --sparse_form must be indices, named or "
                 "hashed, not '%s'\n",
                 absl::GetFlag(FLAGS_sparse_form).c_str());
    return 2;
  }
  const auto serving = ServingFlag();
  if (!serving.has_value()) {
    std::fprintf(stderr,
                 "streamfit-bench: --serving must be auto, live or averaged, "
                 "not '%s'\n",
                 absl::GetFlag(FLAGS_serving).c_str());
    return 2;
  }
  if (absl::GetFlag(FLAGS_mode) == "server-resources") {
    return RunServerResources(
        {.binaries = absl::GetFlag(FLAGS_server_binaries),
         .models = absl::GetFlag(FLAGS_models),
         .features = absl::GetFlag(FLAGS_features),
         .duration_s = absl::GetFlag(FLAGS_duration_s) > 0
                           ? absl::GetFlag(FLAGS_duration_s)
                           : 10,
         .runs = absl::GetFlag(FLAGS_runs)});
  }
  Servers servers;
  if (!servers.Start()) {
    std::fprintf(stderr, "streamfit-bench: cannot start the servers\n");
    return 1;
  }
  for (const Target& t : servers.targets()) {
    std::string error;
    if (!PrepareModel(t.address, "bench", absl::GetFlag(FLAGS_features),
                      absl::GetFlag(FLAGS_sparse), &error, *serving,
                      absl::GetFlag(FLAGS_quadratic)) ||
        (t.name != "noop" &&
         !AddChallengers(t.address, "bench", absl::GetFlag(FLAGS_features),
                         absl::GetFlag(FLAGS_sparse),
                         absl::GetFlag(FLAGS_challengers), &error))) {
      std::fprintf(stderr, "streamfit-bench: %s: %s\n", t.name.c_str(),
                   error.c_str());
      return 1;
    }
  }
  std::unique_ptr<RssSampler> rss;
  if (absl::GetFlag(FLAGS_rss_interval_s) > 0) {
    rss = std::make_unique<RssSampler>(absl::GetFlag(FLAGS_rss_interval_s));
  }
  const std::string mode = absl::GetFlag(FLAGS_mode);
  int rc;
  if (mode == "observe-stream") {
    rc = RunObserve(servers, /*stream=*/true);
  } else if (mode == "observe-unary") {
    rc = RunObserve(servers, /*stream=*/false);
  } else if (mode == "predict") {
    rc = RunPredictMode(servers);
  } else if (mode == "mixed") {
    rc = RunMixed(servers);
  } else if (mode == "abandoned-waits") {
    const uint32_t features = absl::GetFlag(FLAGS_features);
    const int64_t calls = absl::GetFlag(FLAGS_calls);
    const int in_flight = std::max(1, absl::GetFlag(FLAGS_concurrency));
    if (!absl::GetFlag(FLAGS_target).empty()) {
      rc = SendAbandonedWaits(absl::GetFlag(FLAGS_target), "bench", features,
                              calls, in_flight);
    } else if (servers.streamfit() != nullptr) {
      rc = RunAbandonedWaits(*servers.streamfit(), "bench", features, calls,
                             in_flight);
    } else {
      std::fprintf(stderr, "abandoned-waits needs --servers=streamfit\n");
      rc = 2;
    }
  } else {
    std::fprintf(stderr, "streamfit-bench: unknown --mode=%s\n", mode.c_str());
    rc = 2;
  }
  rss.reset();
  return rc;
}
