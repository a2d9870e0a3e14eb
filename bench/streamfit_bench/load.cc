#include "bench/streamfit_bench/load.h"

#include <chrono>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/hashed_features.h"
#include "streamfit/v1/streamfit.grpc.pb.h"

namespace streamfit::bench {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A channel of its own (not shared with other channels to the same address),
// so that `connections` really means TCP connections.
std::unique_ptr<v1::Learner::Stub> NewStub(const std::string& address,
                                           int index) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("streamfit.bench.channel", index);
  args.SetMaxReceiveMessageSize(64 << 20);
  return v1::Learner::NewStub(grpc::CreateCustomChannel(
      address, grpc::InsecureChannelCredentials(), args));
}

// One example's features: `sparse` features in `form` of value 1 if
// sparse > 0 (uniform 32-bit indices or names, so they touch every block of
// the weight table), else `dense` values ~ N(0, 1). Returns sum_j w_j x_j
// for a fixed w.
double FillFeatures(uint32_t dense, uint32_t sparse, SparseForm form,
                    std::mt19937& rng, v1::Features& f) {
  double y = 0;
  if (sparse > 0) {
    static const HashedNamespace kNamespaces[2] = {HashedNamespace("a"),
                                                   HashedNamespace("b")};
    for (uint32_t j = 0; j < sparse; ++j) {
      const uint32_t index = rng();
      y += 0.1 * static_cast<double>(index % 7) - 0.3;
      const bool second = j >= sparse / 2;
      switch (form) {
        case SparseForm::kIndices:
          f.add_indices(index);
          f.add_values(1);
          break;
        case SparseForm::kNamed: {
          v1::NamedFeature* named = f.add_named();
          named->set_namespace_(second ? "b" : "a");
          named->set_name(absl::StrCat("f", index));
          break;
        }
        case SparseForm::kHashed:
          kNamespaces[second].Add(f, absl::StrCat("f", index));
          break;
      }
    }
    return y;
  }
  std::normal_distribution<float> normal(0, 1);
  for (uint32_t j = 0; j < dense; ++j) {
    const float x = normal(rng);
    f.add_dense(x);
    y += (j + 1) * x;
  }
  return y;
}

// Messages to cycle through: y = sum_j w_j x_j + noise (FillFeatures), dense
// examples packed as a DenseBatch.
std::vector<v1::ObserveRequest> MakeMessages(const ObserveLoad& load) {
  constexpr int kDistinct = 16;
  std::mt19937 rng(42);
  std::normal_distribution<double> noise(0, 0.1);
  std::vector<v1::ObserveRequest> messages(kDistinct);
  v1::Features f;
  for (auto& m : messages) {
    m.set_model(load.model);
    v1::DenseBatch* dense =
        load.sparse == 0 ? m.mutable_dense_batch() : nullptr;
    if (dense != nullptr) dense->set_num_features(load.features);
    for (int i = 0; i < load.batch; ++i) {
      f.Clear();
      const double y =
          FillFeatures(load.features, load.sparse, load.sparse_form, rng, f) +
          noise(rng);
      if (dense == nullptr) {
        v1::Example* e = m.add_examples();
        *e->mutable_features() = f;
        e->set_label(y);
      } else {
        dense->mutable_values()->Add(f.dense().begin(), f.dense().end());
        dense->add_labels(y);
      }
    }
  }
  return messages;
}

uint64_t ModelVersion(v1::Learner::Stub& stub, const std::string& model) {
  v1::GetModelRequest request;
  request.set_name(model);
  v1::ModelInfo info;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  return stub.GetModel(&context, request, &info).ok() ? info.model_version()
                                                      : 0;
}

// Polls until the model's version reaches `target` (bounded: 120 s).
void WaitForVersion(v1::Learner::Stub& stub, const std::string& model,
                    uint64_t target) {
  const auto give_up = Clock::now() + std::chrono::seconds(120);
  while (ModelVersion(stub, model) < target && Clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

// Joins per-connection error messages.
class Errors {
 public:
  void Add(const grpc::Status& status) {
    if (status.ok()) return;
    absl::MutexLock lock(&mu_);
    if (first_.empty()) {
      first_ = absl::StrCat("code ", status.error_code(), ": ",
                            status.error_message());
    }
  }
  std::string first() {
    absl::MutexLock lock(&mu_);
    return first_;
  }

 private:
  absl::Mutex mu_;
  std::string first_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

bool PrepareModel(const std::string& address, const std::string& model,
                  uint32_t features, uint32_t sparse, std::string* error,
                  v1::Serving serving, bool quadratic) {
  auto stub = NewStub(address, -1);
  v1::CreateModelRequest request;
  request.set_name(model);
  request.mutable_config()->set_task(v1::TASK_REGRESSION);
  request.mutable_config()->set_num_features(sparse > 0 ? 0 : features);
  request.mutable_config()->set_hash_bits(18);
  request.mutable_config()->set_serving(serving);
  if (quadratic) {
    v1::NamespacePair* pair = request.mutable_config()->add_interactions();
    pair->set_first("a");
    pair->set_second("b");
  }
  v1::ModelInfo info;
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  const grpc::Status status = stub->CreateModel(&context, request, &info);
  if (status.ok() || status.error_code() == grpc::ALREADY_EXISTS) return true;
  *error = absl::StrCat("CreateModel: ", status.error_message());
  return false;
}

bool AddChallengers(const std::string& address, const std::string& model,
                    uint32_t features, uint32_t sparse, int n,
                    std::string* error) {
  constexpr v1::Optimizer kRules[] = {v1::OPTIMIZER_ADAGRAD, v1::OPTIMIZER_FTRL,
                                      v1::OPTIMIZER_ADAM, v1::OPTIMIZER_SGD};
  auto stub = NewStub(address, -1);
  for (int i = 0; i < n; ++i) {
    v1::AddChallengerRequest request;
    request.set_model(model);
    request.set_name(absl::StrCat("c", i));
    request.mutable_config()->set_task(v1::TASK_REGRESSION);
    request.mutable_config()->set_num_features(sparse > 0 ? 0 : features);
    request.mutable_config()->set_hash_bits(18);
    request.mutable_config()->set_optimizer(kRules[i % 4]);
    v1::Challenger added;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    const grpc::Status status = stub->AddChallenger(&context, request, &added);
    if (!status.ok()) {
      *error = absl::StrCat("AddChallenger: ", status.error_message());
      return false;
    }
  }
  return true;
}

namespace {

// Everything one Observe connection needs; `samples` counts what the server
// took, `end` is the deadline of a duration run.
struct Connection {
  v1::Learner::Stub& stub;
  const std::vector<v1::ObserveRequest>& messages;
  Clock::time_point end;
  std::atomic<uint64_t>& samples;
  Errors& errors;
};

// Runs `drive(Connection)` on one thread per connection, then waits until
// the model has applied every sample the server took.
template <typename Drive>
ObserveResult RunConnections(const std::string& address,
                             const ObserveLoad& load, Drive drive) {
  const std::vector<v1::ObserveRequest> messages = MakeMessages(load);
  auto control = NewStub(address, -1);
  const uint64_t start_version = ModelVersion(*control, load.model);
  std::vector<std::unique_ptr<v1::Learner::Stub>> stubs;
  for (int c = 0; c < load.connections; ++c) {
    stubs.push_back(NewStub(address, c));
  }
  std::atomic<uint64_t> samples{0};
  Errors errors;
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(load.duration_s));
  std::vector<std::thread> threads;
  for (int c = 0; c < load.connections; ++c) {
    threads.emplace_back([&, c] {
      drive(Connection{*stubs[c], messages, end, samples, errors});
    });
  }
  for (auto& t : threads) t.join();
  ObserveResult result;
  result.acked_seconds = SecondsSince(start);
  result.samples = samples.load();
  WaitForVersion(*control, load.model, start_version + result.samples);
  result.applied_seconds = SecondsSince(start);
  result.error = errors.first();
  return result;
}

}  // namespace

ObserveResult RunObserveStream(const std::string& address,
                               const ObserveLoad& load,
                               const std::atomic<bool>* stop) {
  return RunConnections(address, load, [&](Connection c) {
    grpc::ClientContext context;
    auto stream = c.stub.ObserveStream(&context);
    std::thread reader([&] {
      v1::ObserveAck ack;
      uint64_t n = 0;
      while (stream->Read(&ack)) n += ack.accepted();
      c.samples.fetch_add(n);
    });
    const auto options = grpc::WriteOptions().set_buffer_hint();
    const auto start = Clock::now();
    for (int64_t m = 0;; ++m) {
      if (load.rate > 0) {  // message m is due after m * batch samples
        std::this_thread::sleep_until(
            start +
            std::chrono::duration_cast<Clock::duration>(
                std::chrono::duration<double>(m * load.batch / load.rate)));
      }
      if (load.duration_s > 0) {
        if (m % 64 == 0 &&
            (Clock::now() >= c.end || (stop != nullptr && stop->load()))) {
          break;
        }
      } else if (m >= load.messages) {
        break;
      }
      if (!stream->Write(c.messages[m % c.messages.size()], options)) break;
    }
    stream->WritesDone();
    reader.join();
    c.errors.Add(stream->Finish());
  });
}

ObserveResult RunObserveUnary(const std::string& address,
                              const ObserveLoad& load) {
  return RunConnections(address, load, [&](Connection c) {
    const auto done = [&](int64_t m) {
      return load.duration_s > 0 ? Clock::now() >= c.end : m >= load.messages;
    };
    for (int64_t m = 0; !done(m);) {
      grpc::ClientContext context;
      v1::ObserveResponse response;
      auto writer = c.stub.Observe(&context, &response);
      for (int i = 0; i < load.messages_per_call && !done(m); ++i, ++m) {
        if (!writer->Write(c.messages[m % c.messages.size()])) break;
      }
      writer->WritesDone();
      const grpc::Status status = writer->Finish();
      c.errors.Add(status);
      if (!status.ok()) break;
      c.samples.fetch_add(response.accepted());
    }
  });
}

namespace {

// Issues Predict calls with the callback API and records their latency.
class PredictDriver {
 public:
  PredictDriver(const std::string& address, const PredictLoad& load)
      : stub_(NewStub(address, 1000)) {
    std::mt19937 rng(7);
    request_.set_model(load.model);
    for (int i = 0; i < load.inputs; ++i) {
      FillFeatures(load.features, load.sparse, SparseForm::kIndices, rng,
                   *request_.add_features());
    }
  }

  // Starts one call; `then` runs after it completes (on a gRPC thread).
  template <typename Then>
  void Issue(Clock::time_point intended, Then then) {
    auto* call = new Call;
    call->intended = intended;
    {
      absl::MutexLock lock(&mu_);
      ++in_flight_;
    }
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(10));
    stub_->async()->Predict(
        &call->context, &request_, &call->response,
        [this, call, then = std::move(then)](grpc::Status status) mutable {
          recorder_.Record(std::chrono::duration_cast<std::chrono::nanoseconds>(
                               Clock::now() - call->intended)
                               .count());
          delete call;
          {
            absl::MutexLock lock(&mu_);
            if (!status.ok() && errors_++ == 0) {
              first_error_ = status.error_message();
            }
          }
          then();
          absl::MutexLock lock(&mu_);
          --in_flight_;
        });
  }

  void Clear() {
    recorder_.Clear();
    absl::MutexLock lock(&mu_);
    errors_ = 0;
  }

  PredictResult Finish(double seconds) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* n) { return *n == 0; }, &in_flight_));
    PredictResult result;
    result.latency = recorder_.Summarize();
    result.calls_per_second = result.latency.count / seconds;
    result.errors = errors_;
    result.first_error = first_error_;
    return result;
  }

 private:
  struct Call {
    Clock::time_point intended;
    grpc::ClientContext context;
    v1::PredictResponse response;
  };

  std::unique_ptr<v1::Learner::Stub> stub_;
  v1::PredictRequest request_;  // read-only while calls run
  LatencyRecorder recorder_;
  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t errors_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

PredictResult RunPredict(const std::string& address, const PredictLoad& load) {
  PredictDriver measured(address, load);
  // Warm up the connection so the first calls do not pay for it.
  for (int i = 0; i < 200; ++i) {
    std::atomic<bool> done{false};
    measured.Issue(Clock::now(), [&] { done.store(true); });
    while (!done.load()) std::this_thread::yield();
  }
  measured.Finish(1);
  measured.Clear();
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(load.duration_s));
  if (load.qps > 0) {
    const auto period = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(1.0 / load.qps));
    for (Clock::time_point t = start; t < end; t += period) {
      std::this_thread::sleep_until(t);
      measured.Issue(t, [] {});
    }
  } else {
    // Closed loop: each completion issues the next call until `end`.
    std::function<void()> next = [&] {
      if (Clock::now() < end) measured.Issue(Clock::now(), next);
    };
    for (int i = 0; i < load.concurrency; ++i) {
      measured.Issue(Clock::now(), next);
    }
    std::this_thread::sleep_until(end);
  }
  return measured.Finish(SecondsSince(start));
}

}  // namespace streamfit::bench
