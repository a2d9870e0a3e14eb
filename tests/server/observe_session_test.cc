// ObserveSession without gRPC: a scripted client drives it the way a
// reactor does (the learner is real; its callbacks come on its thread), and
// the tests check what the call writes, how it ends and what the model
// learned.
#include "server/observe_session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/model_registry.h"

namespace streamfit {
namespace {

using Answer = ObserveSession::Answer;

// `n` samples of 2 features for model `model` (a NaN feature if `bad`).
v1::ObserveRequest Request(const std::string& model, int n, bool bad = false) {
  v1::ObserveRequest request;
  request.set_model(model);
  for (int i = 0; i < n; ++i) {
    v1::Example* e = request.add_examples();
    e->mutable_features()->add_dense(i);
    e->mutable_features()->add_dense(bad ? NAN : 1.0f);
    e->set_label(i);
  }
  return request;
}

// Plays a client and a reactor: feeds `requests` one read at a time,
// "writes" each ack at once, and records the acks and the final status.
// Actions from the learner's threads are queued and run on the test's
// thread, one at a time, as gRPC runs reactions. A slow reader of acks
// (`slow_reader`) completes no write until the call has been quiet for a
// second (reading paused), then reads acks at full speed.
class ScriptedCall {
 public:
  ScriptedCall(const ModelRegistry* registry, Answer answer,
               std::vector<v1::ObserveRequest> requests,
               bool slow_reader = false)
      : requests_(requests.begin(), requests.end()),
        holding_write_(slow_reader),
        session_(registry, answer, &reply_, [this](ObserveActions actions) {
          Queue(std::move(actions));
        }) {}

  // Runs the call to its end (or fails the test after 30 s).
  absl::Status Run() {
    Apply({.read = true});
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (!finish_.has_value()) {
      ObserveActions next;
      bool release_write = false;
      {
        absl::MutexLock lock(&mu_);
        const absl::Time quiet =
            held_write_ ? absl::Now() + absl::Seconds(1) : deadline;
        while (pending_.empty() && absl::Now() < std::min(quiet, deadline)) {
          cv_.WaitWithDeadline(&mu_, std::min(quiet, deadline));
        }
        if (pending_.empty() && held_write_) {
          reads_when_paused_ = reads_;
          held_write_ = holding_write_ = false;
          release_write = true;
        } else if (pending_.empty()) {
          ADD_FAILURE() << "the call did not end";
          return absl::DeadlineExceededError("the call did not end");
        } else {
          next = std::move(pending_.front());
          pending_.pop_front();
        }
      }
      if (release_write) {
        Queue(session_.OnAckWritten(true));
      } else {
        Apply(std::move(next));
      }
    }
    return *finish_;
  }

  const std::vector<v1::ObserveAck>& acks() const { return acks_; }
  const v1::ObserveResponse& reply() const { return reply_; }
  // Requests read when a slow reader found the call paused.
  std::optional<uint64_t> reads_when_paused() const {
    return reads_when_paused_;
  }

 private:
  // One reaction's worth: the write completes, the read delivers the next
  // request (or the end of the client's stream), in the reactor's order.
  void Apply(ObserveActions actions) {
    EXPECT_FALSE(finish_.has_value()) << "an action after the call ended";
    if (actions.write != nullptr) {
      acks_.push_back(*actions.write);
      if (holding_write_) {
        absl::MutexLock lock(&mu_);
        held_write_ = true;
      } else {
        Queue(session_.OnAckWritten(true));
      }
    }
    if (actions.read) {
      if (requests_.empty()) {
        Queue(session_.OnReadsDone());
      } else {
        v1::ObserveRequest request = std::move(requests_.front());
        requests_.pop_front();
        ++reads_;
        Queue(session_.OnRequest(request));
      }
    }
    if (actions.finish.has_value()) finish_ = *actions.finish;
  }
  void Queue(ObserveActions actions) {
    absl::MutexLock lock(&mu_);
    pending_.push_back(std::move(actions));
    cv_.Signal();
  }

  std::deque<v1::ObserveRequest> requests_;
  v1::ObserveResponse reply_;
  std::vector<v1::ObserveAck> acks_;
  std::optional<absl::Status> finish_;
  uint64_t reads_ = 0;
  bool holding_write_;
  std::optional<uint64_t> reads_when_paused_;
  absl::Mutex mu_;
  bool held_write_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar cv_;
  std::deque<ObserveActions> pending_ ABSL_GUARDED_BY(mu_);
  ObserveSession session_;  // last: its callbacks use the members above
};

class ObserveSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ModelConfig config;
    config.task = Task::kRegression;
    config.num_features = 2;
    ASSERT_TRUE(registry_.Create("m", config).ok());
    ASSERT_TRUE(registry_.Create("other", config).ok());
  }
  // The version published (what Predict sees).
  uint64_t Version(const std::string& name) {
    return (*registry_.Get(name))->learner.Current()->version();
  }
  // The version of the samples queued (what a stream's ack promises).
  uint64_t Queued(const std::string& name) {
    return (*registry_.Get(name))->learner.AdmittedVersion();
  }
  uint64_t Refused(const std::string& name) {
    uint64_t requests = 0;
    for (const auto& row : (*registry_.Get(name))->refusals.Read()) {
      requests += row.requests;
    }
    return requests;
  }

  ModelRegistry registry_;
};

TEST_F(ObserveSessionTest, EachRequestIsAckedInOrderWithTheVersionItReaches) {
  ScriptedCall call(&registry_, Answer::kEachRequest,
                    {Request("m", 2), Request("", 3), Request("m", 0)});
  ASSERT_TRUE(call.Run().ok());
  ASSERT_EQ(call.acks().size(), 3u);
  EXPECT_EQ(call.acks()[0].accepted(), 2u);
  EXPECT_EQ(call.acks()[0].model_version(), 2u);
  EXPECT_EQ(call.acks()[1].accepted(), 3u);
  EXPECT_EQ(call.acks()[1].model_version(), 5u);
  EXPECT_EQ(call.acks()[2].accepted(), 0u);
  EXPECT_EQ(Queued("m"), 5u);
}

TEST_F(ObserveSessionTest, ABadRequestEndsTheStreamAfterTheAcksBeforeIt) {
  ScriptedCall call(
      &registry_, Answer::kEachRequest,
      {Request("m", 2), Request("m", 2, /*bad=*/true), Request("m", 4)});
  EXPECT_EQ(call.Run().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(call.acks().size(), 1u);
  EXPECT_EQ(call.acks()[0].model_version(), 2u);
  EXPECT_EQ(Queued("m"), 2u);  // nothing after the bad request
  EXPECT_EQ(Refused("m"), 1u);
}

TEST_F(ObserveSessionTest, ReadingPausesWhileTheMaximumOfAcksWaits) {
  const uint64_t n = ObserveSession::kMaxUnackedRequests + 100;
  std::vector<v1::ObserveRequest> requests(n, Request("m", 1));
  ScriptedCall call(&registry_, Answer::kEachRequest, std::move(requests),
                    /*slow_reader=*/true);
  ASSERT_TRUE(call.Run().ok());
  ASSERT_TRUE(call.reads_when_paused().has_value());
  EXPECT_EQ(*call.reads_when_paused(), ObserveSession::kMaxUnackedRequests);
  ASSERT_EQ(call.acks().size(), n);
  EXPECT_EQ(call.acks().back().model_version(), n);
  EXPECT_EQ(Queued("m"), n);
}

TEST_F(ObserveSessionTest, AStreamObservesOneModel) {
  ScriptedCall call(&registry_, Answer::kEachRequest,
                    {Request("m", 1), Request("other", 1)});
  const absl::Status status = call.Run();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("one model"), absl::string_view::npos)
      << status;
  EXPECT_EQ(call.acks().size(), 1u);
  EXPECT_EQ(Queued("other"), 0u);
}

TEST_F(ObserveSessionTest, OnceRepliesWithEverySampleAppliedAtTheEnd) {
  ScriptedCall call(&registry_, Answer::kOnce,
                    {Request("m", 2), Request("", 0), Request("m", 3)});
  ASSERT_TRUE(call.Run().ok());
  EXPECT_TRUE(call.acks().empty());
  EXPECT_EQ(call.reply().accepted(), 5u);
  EXPECT_EQ(call.reply().model_version(), 5u);
  // The reply comes once the samples are applied: Predict sees them.
  EXPECT_EQ(Version("m"), 5u);
}

TEST_F(ObserveSessionTest, OnceWithNothingToLearnRepliesTheCurrentVersion) {
  ScriptedCall warm(&registry_, Answer::kOnce, {Request("m", 3)});
  ASSERT_TRUE(warm.Run().ok());
  ScriptedCall call(&registry_, Answer::kOnce, {Request("m", 0)});
  ASSERT_TRUE(call.Run().ok());
  EXPECT_EQ(call.reply().accepted(), 0u);
  EXPECT_EQ(call.reply().model_version(), 3u);
}

TEST_F(ObserveSessionTest, OnceEndsWithTheErrorOfAnUnknownModel) {
  ScriptedCall call(&registry_, Answer::kOnce, {Request("nope", 2)});
  EXPECT_EQ(call.Run().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace streamfit
