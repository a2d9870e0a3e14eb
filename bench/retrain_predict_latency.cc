// streamfit-retrain-latency: Predict latency on an in-process server while
// idle and while a retrain runs (and a producer streams), from --threads
// client threads. Prints p50/p99/max and the error count of each phase.
//
//   streamfit-retrain-latency [--rows=200000] [--threads=2] [--seconds=3]
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/server.h"

ABSL_FLAG(int, rows, 200000, "rows in the uploaded dataset (10 features)");
ABSL_FLAG(int, threads, 2, "Predict client threads");
ABSL_FLAG(double, seconds, 3, "idle measurement length");
ABSL_FLAG(std::string, algorithm, "minibatch_sgd", "the retrain's algorithm");
ABSL_FLAG(int, epochs, 30, "minibatch_sgd epochs");

namespace {

using streamfit::v1::Learner;

struct Phase {
  std::vector<double> micros;
  int errors = 0;
};

// Runs Predict from `threads` threads until `stop`.
Phase Measure(const std::string& address, int threads,
              const std::atomic<bool>& stop) {
  std::vector<Phase> per(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto stub = Learner::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
      streamfit::v1::PredictRequest request;
      request.set_model("m");
      request.add_features()->mutable_dense()->Resize(10, 0.5f);
      while (!stop) {
        grpc::ClientContext context;
        streamfit::v1::PredictResponse response;
        const absl::Time start = absl::Now();
        const bool ok = stub->Predict(&context, request, &response).ok();
        per[t].micros.push_back(
            absl::ToDoubleMicroseconds(absl::Now() - start));
        if (!ok) ++per[t].errors;
      }
    });
  }
  for (auto& t : pool) t.join();
  Phase all;
  for (auto& p : per) {
    all.micros.insert(all.micros.end(), p.micros.begin(), p.micros.end());
    all.errors += p.errors;
  }
  std::sort(all.micros.begin(), all.micros.end());
  return all;
}

void Print(const char* name, const Phase& p) {
  auto q = [&](double f) {
    return p.micros.empty()
               ? 0.0
               : p.micros[std::min(p.micros.size() - 1,
                                   static_cast<size_t>(f * p.micros.size()))];
  };
  std::printf(
      "%-16s %9zu calls %5d errors  p50 %8.0f us  p99 %8.0f us  max %8.0f us\n",
      name, p.micros.size(), p.errors, q(0.5), q(0.99),
      p.micros.empty() ? 0.0 : p.micros.back());
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string dir = (std::filesystem::temp_directory_path() /
                           absl::StrCat("streamfit-latency-", ::getpid()))
                              .string();
  streamfit::StreamfitServer::Options options;
  options.address = "127.0.0.1:0";
  options.data_dir = dir;
  options.default_model = "m";
  options.default_config.task = streamfit::Task::kRegression;
  options.default_config.num_features = 10;
  auto server = streamfit::StreamfitServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  const std::string address = (*server)->address();
  auto stub = Learner::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));

  // Upload the dataset.
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0, 1);
  std::string csv;
  for (int i = 0; i < absl::GetFlag(FLAGS_rows); ++i) {
    std::string row;
    double y = 1;
    for (int j = 0; j < 10; ++j) {
      const float x = normal(rng);
      y += (j - 5) * 0.3 * x;
      absl::StrAppend(&row, ",", x);
    }
    absl::StrAppend(&csv, y, row, "\n");
  }
  std::fprintf(stderr, "uploading %zu bytes\n", csv.size());
  streamfit::v1::DatasetInfo info;
  {
    grpc::ClientContext context;
    auto writer = stub->UploadDataset(&context, &info);
    streamfit::v1::UploadDatasetRequest chunk;
    for (size_t at = 0; at < csv.size(); at += 1 << 20) {
      chunk.set_data(csv.substr(at, 1 << 20));
      writer->Write(chunk);
    }
    writer->WritesDone();
    if (!writer->Finish().ok()) return 1;
  }

  std::fprintf(stderr, "measuring idle Predict\n");
  const int threads = absl::GetFlag(FLAGS_threads);
  std::atomic<bool> stop{false};
  std::thread idle_timer([&] {
    absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_seconds)));
    stop = true;
  });
  const Phase idle = Measure(address, threads, stop);
  idle_timer.join();

  streamfit::v1::RetrainRequest request;
  request.set_model("m");
  request.set_dataset_id(info.id());
  request.set_algorithm(absl::GetFlag(FLAGS_algorithm));
  request.set_epochs(absl::GetFlag(FLAGS_epochs));
  streamfit::v1::RetrainJob job;
  {
    grpc::ClientContext context;
    if (!stub->Retrain(&context, request, &job).ok()) return 1;
  }
  std::fprintf(stderr, "measuring Predict during retrain %s\n",
               job.id().c_str());
  stop = false;
  std::thread watcher([&] {
    grpc::ClientContext context;
    streamfit::v1::GetRetrainJobRequest get;
    get.set_id(job.id());
    auto reader = stub->WatchRetrainJob(&context, get);
    streamfit::v1::RetrainJob update;
    while (reader->Read(&update)) job = update;
    reader->Finish();
    stop = true;
  });
  const absl::Time during_start = absl::Now();
  const Phase during = Measure(address, threads, stop);
  const double during_seconds =
      absl::ToDoubleSeconds(absl::Now() - during_start);
  watcher.join();

  std::printf(
      "Predict (1 row x 10 features) from %d threads; retrain %s on "
      "%d rows: fit %.2f s, job %.2f s, watched %.2f s, state %s\n",
      threads, request.algorithm().c_str(), absl::GetFlag(FLAGS_rows),
      job.metrics().fit_seconds(),
      (job.finished_unix_ms() - job.created_unix_ms()) / 1000.0, during_seconds,
      streamfit::v1::RetrainState_Name(job.state()).c_str());
  Print("idle", idle);
  Print("during retrain", during);
  (*server)->Shutdown(absl::Seconds(1));
  std::filesystem::remove_all(dir);
  return 0;
}
