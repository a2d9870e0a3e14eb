// G1 under concurrency on the acked fast path: many producers stream
// DenseBatch requests on ObserveStream (many in flight each) while many
// readers predict, some with min_version. The acks tile the log exactly, and
// every prediction equals the offline model's at the version it reports.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/model/linear_model.h"
#include "core/model/model_trainer.h"
#include "server/proto_convert.h"
#include "tests/server/server_fixture.h"

namespace streamfit::testing {
namespace {

constexpr int kProducers = 4;
constexpr int kRequestsEach = 60;
constexpr int kBatch = 8;
constexpr int kReaders = 4;
constexpr uint32_t kFeatures = 3;

class ThroughputConcurrencyTest : public ServerTest {
 protected:
  ThroughputConcurrencyTest() { learner_options_.publish_every = 16; }
};

struct Request {
  std::vector<v1::Example> examples;
  uint64_t end_version = 0;  // from its ack
};

struct Seen {
  uint64_t version;
  double value;
};

v1::ObserveRequest Dense(const std::vector<v1::Example>& examples) {
  v1::ObserveRequest request;
  v1::DenseBatch* dense = request.mutable_dense_batch();
  dense->set_num_features(kFeatures);
  for (const auto& e : examples) {
    dense->mutable_values()->Add(e.features().dense().begin(),
                                 e.features().dense().end());
    dense->add_labels(e.label());
  }
  return request;
}

TEST_F(ThroughputConcurrencyTest, AckedStreamsAndReadersAgreeWithReplay) {
  const v1::ModelInfo info = Create("g1", v1::TASK_REGRESSION, kFeatures);
  std::vector<std::vector<Request>> requests(kProducers);
  for (int p = 0; p < kProducers; ++p) {
    for (int k = 0; k < kRequestsEach; ++k) {
      requests[p].push_back({LinearExamples(kBatch, 1000 * p + k)});
    }
  }
  const v1::Example probe = LinearExamples(1, 7)[0];
  std::atomic<int> producers_left{kProducers};
  // Producers start once every reader has read version 0.
  std::atomic<int> readers_ready{0};
  std::vector<std::vector<Seen>> seen(kReaders);
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < 10000 && readers_ready < kReaders; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      grpc::ClientContext context;
      auto stream = stub_->ObserveStream(&context);
      std::thread writer([&] {
        for (int k = 0; k < kRequestsEach; ++k) {
          v1::ObserveRequest request = Dense(requests[p][k].examples);
          request.set_model("g1");
          if (!stream->Write(request)) break;
        }
        stream->WritesDone();
      });
      v1::ObserveAck ack;
      int k = 0;
      while (stream->Read(&ack)) {
        ASSERT_LT(k, kRequestsEach);
        EXPECT_EQ(ack.accepted(), static_cast<uint64_t>(kBatch));
        requests[p][k++].end_version = ack.model_version();
      }
      writer.join();
      EXPECT_TRUE(stream->Finish().ok());
      EXPECT_EQ(k, kRequestsEach);
      --producers_left;
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      uint64_t last = 0;
      for (int i = 0; i < 20000 && (producers_left > 0 || i < 10); ++i) {
        v1::PredictRequest request;
        request.set_model("g1");
        // Odd readers read their own last version back at least.
        const bool wait = r % 2 == 1 && i > 0;
        if (wait) request.set_min_version(last + 1);
        *request.add_features() = probe.features();
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(2));
        v1::PredictResponse response;
        const grpc::Status status =
            stub_->Predict(&context, request, &response);
        if (wait && producers_left == 0 &&
            status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
          break;  // waited for a version nobody will write
        }
        ASSERT_TRUE(status.ok()) << status.error_message();
        ASSERT_GE(response.model_version(), last);  // never goes back
        if (wait) {
          ASSERT_GE(response.model_version(), last + 1);
        }
        last = response.model_version();
        seen[r].push_back({last, response.predictions(0).value()});
        if (i == 0) ++readers_ready;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_FALSE(HasFailure());

  // The acks tile [0, total) exactly: rebuild the log in ack order.
  std::vector<const Request*> order;
  for (const auto& mine : requests) {
    uint64_t previous = 0;
    for (const Request& r : mine) {
      EXPECT_GT(r.end_version, previous);  // a producer's order is kept
      previous = r.end_version;
      order.push_back(&r);
    }
  }
  std::sort(order.begin(), order.end(), [](const Request* a, const Request* b) {
    return a->end_version < b->end_version;
  });
  std::vector<const v1::Example*> log;
  for (size_t i = 0; i < order.size(); ++i) {
    ASSERT_EQ(order[i]->end_version, (i + 1) * kBatch);
    for (const auto& e : order[i]->examples) log.push_back(&e);
  }

  std::vector<Seen> all;
  for (const auto& s : seen) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.begin(), all.end(),
            [](const Seen& a, const Seen& b) { return a.version < b.version; });
  ASSERT_FALSE(all.empty());
  EXPECT_LE(all.back().version, log.size());
  absl::StatusOr<ModelTrainer> trainer =
      ModelTrainer::Create(FromProto(info.config()));
  ASSERT_TRUE(trainer.ok());
  size_t applied = 0, distinct = 0;
  uint64_t previous = ~0ull;
  const auto& x = probe.features().dense();
  for (const Seen& s : all) {
    for (; applied < s.version; ++applied) {
      const auto& d = log[applied]->features().dense();
      trainer->Learn({d.data(), static_cast<size_t>(d.size())},
                     log[applied]->label());
    }
    if (s.version != previous) ++distinct;
    previous = s.version;
    Prediction expected;
    trainer->model().Predict({x.data(), static_cast<size_t>(x.size())},
                             expected);
    ASSERT_EQ(s.value, expected.value) << "at version " << s.version;
  }
  EXPECT_GE(distinct, 2u);  // version 0 and at least one later
}

// Readers waiting for versions: each is answered at or beyond its
// min_version once that is written, or gets DEADLINE_EXCEEDED if it never is.
TEST_F(ThroughputConcurrencyTest, ManyMinVersionWaitersAnsweredOrTimedOut) {
  Create("w", v1::TASK_REGRESSION, kFeatures);
  constexpr int kWaiters = 16;
  constexpr uint64_t kWritten = 400;
  const auto examples = LinearExamples(kWritten, 11);
  std::vector<grpc::Status> statuses(kWaiters);
  std::vector<uint64_t> versions(kWaiters);
  std::vector<std::thread> waiters;
  // Waiter i wants version 50 (i + 1): the first 8 are reachable.
  for (int i = 0; i < kWaiters; ++i) {
    waiters.emplace_back([&, i] {
      v1::PredictRequest request;
      request.set_model("w");
      request.set_min_version(50 * (i + 1));
      *request.add_features() = examples[0].features();
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(3));
      v1::PredictResponse response;
      statuses[i] = stub_->Predict(&context, request, &response);
      versions[i] = response.model_version();
    });
  }
  // Written in 8 streams of 50, while the waiters wait.
  for (uint64_t begin = 0; begin < kWritten; begin += 50) {
    v1::ObserveResponse ack;
    ASSERT_TRUE(
        Observe({Message("w", examples, begin, begin + 50)}, &ack).ok());
  }
  for (auto& t : waiters) t.join();
  for (int i = 0; i < kWaiters; ++i) {
    const uint64_t wanted = 50 * (i + 1);
    if (wanted <= kWritten) {
      ASSERT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
      EXPECT_GE(versions[i], wanted);
      EXPECT_LE(versions[i], kWritten);
    } else {
      EXPECT_EQ(statuses[i].error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
          << i;
    }
  }
}

TEST_F(ThroughputConcurrencyTest, TimedOutMinVersionWaitersLeaveNoWaiter) {
  Create("w", v1::TASK_REGRESSION, kFeatures);
  const auto examples = LinearExamples(1, 12);
  // Predict calls for a version never reached, all in flight at once, each
  // given up by its deadline or cancelled by its client.
  constexpr int kCalls = 2000;
  struct Call {
    grpc::ClientContext context;
    v1::PredictRequest request;
    v1::PredictResponse response;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Call>> calls;
  absl::Mutex mu;
  int done = 0;
  for (int i = 0; i < kCalls; ++i) {
    auto call = std::make_unique<Call>();
    call->request.set_model("w");
    call->request.set_min_version(1'000'000'000);
    *call->request.add_features() = examples[0].features();
    if (i % 2 == 0) {
      call->context.set_deadline(std::chrono::system_clock::now() +
                                 std::chrono::milliseconds(1 + i % 50));
    }
    Call* c = call.get();
    stub_->async()->Predict(&c->context, &c->request, &c->response,
                            [&mu, &done, c](grpc::Status status) {
                              absl::MutexLock lock(&mu);
                              c->status = std::move(status);
                              ++done;
                            });
    calls.push_back(std::move(call));
  }
  // The odd ones are cancelled by their client.
  for (int i = 1; i < kCalls; i += 2) calls[i]->context.TryCancel();
  // Polled under the lock (a Condition would be evaluated inside Abseil,
  // where the TSan build cannot see the lock held).
  for (int i = 0; i < 6000; ++i) {
    {
      absl::MutexLock lock(&mu);
      if (done == kCalls) break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  {
    absl::MutexLock lock(&mu);
    ASSERT_EQ(done, kCalls);
  }
  for (int i = 0; i < kCalls; ++i) {
    EXPECT_EQ(calls[i]->status.error_code(),
              i % 2 == 0 ? grpc::StatusCode::DEADLINE_EXCEEDED
                         : grpc::StatusCode::CANCELLED)
        << i;
  }
  auto model = server_->registry().Get("w");
  ASSERT_TRUE(model.ok());
  // OnCancel may still be running for the last calls after their client
  // saw the status; it is bounded.
  for (int i = 0; i < 200 && (*model)->learner.WaiterCount() > 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ((*model)->learner.WaiterCount(), 0u);
}

}  // namespace
}  // namespace streamfit::testing
