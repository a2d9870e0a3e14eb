#include "bench/streamfit_bench/abandoned_waits.h"

#include <grpcpp/grpcpp.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/streamfit_bench/rss_sampler.h"
#include "streamfit/v1/streamfit.grpc.pb.h"

extern char** environ;

namespace streamfit::bench {
namespace {

struct Call {
  grpc::ClientContext context;
  v1::PredictRequest request;
  v1::PredictResponse response;
};

}  // namespace

int SendAbandonedWaits(const std::string& address, const std::string& model,
                       uint32_t features, int64_t calls, int in_flight) {
  auto stub = v1::Learner::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  v1::PredictRequest request;
  request.set_model(model);
  request.set_min_version(uint64_t{1} << 62);
  request.add_features()->mutable_dense()->Resize(features, 0);
  absl::Mutex mu;
  int64_t unexpected = 0;
  for (int64_t sent = 0; sent < calls;) {
    const int wave =
        static_cast<int>(std::min<int64_t>(in_flight, calls - sent));
    std::vector<std::unique_ptr<Call>> wave_calls;
    int remaining = wave;
    for (int i = 0; i < wave; ++i) {
      auto call = std::make_unique<Call>();
      call->request = request;
      call->context.set_deadline(std::chrono::system_clock::now() +
                                 std::chrono::milliseconds(1));
      Call* c = call.get();
      stub->async()->Predict(
          &c->context, &c->request, &c->response, [&](grpc::Status status) {
            absl::MutexLock lock(&mu);
            unexpected +=
                status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED;
            --remaining;
          });
      wave_calls.push_back(std::move(call));
    }
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* r) { return *r == 0; }, &remaining));
    sent += wave;
  }
  std::printf(
      "abandoned-waits client: %lld calls, %lld not DEADLINE_EXCEEDED\n",
      static_cast<long long>(calls), static_cast<long long>(unexpected));
  return unexpected == 0 ? 0 : 1;
}

int RunAbandonedWaits(StreamfitServer& server, const std::string& model,
                      uint32_t features, int64_t calls, int in_flight) {
  absl::StatusOr<std::shared_ptr<LiveModel>> live =
      server.registry().Get(model);
  if (!live.ok()) {
    std::fprintf(stderr, "abandoned-waits: %s\n",
                 live.status().ToString().c_str());
    return 1;
  }
  std::vector<std::string> args = {"/proc/self/exe",
                                   "--mode=abandoned-waits",
                                   absl::StrCat("--target=", server.address()),
                                   absl::StrCat("--features=", features),
                                   absl::StrCat("--calls=", calls),
                                   absl::StrCat("--concurrency=", in_flight)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const long rss_before = ProcStatusKb("VmRSS");
  const absl::Time start = absl::Now();
  pid_t child = 0;
  int status = 0;
  if (posix_spawn(&child, argv[0], nullptr, nullptr, argv.data(), environ) !=
          0 ||
      waitpid(child, &status, 0) != child) {
    std::fprintf(stderr, "abandoned-waits: cannot run the client process\n");
    return 1;
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  // A server-side cancel may finish just after its client saw the status.
  for (int i = 0; i < 100 && (*live)->learner.WaiterCount() > 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const size_t waiters = (*live)->learner.WaiterCount();
  const long rss_after = ProcStatusKb("VmRSS");
  std::printf(
      "abandoned-waits: %lld calls in %.1f s; waiters left %zu; server VmRSS "
      "%ld kB before, %ld kB after (%+ld kB)\n",
      static_cast<long long>(calls), seconds, waiters, rss_before, rss_after,
      rss_after - rss_before);
  const bool client_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return client_ok && waiters == 0 ? 0 : 1;
}

}  // namespace streamfit::bench
