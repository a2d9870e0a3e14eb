#include "server/retrain_jobs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "tests/testing/fault_file_system.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::FaultFileSystem;
using ::streamfit::testing::StatusIs;
using Op = FaultFileSystem::Op;

// A registry with one 2-feature regression model, a dataset store holding
// one small dataset, and retrain jobs over them, in a temporary directory.
class RetrainJobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat(
               "retrain_jobs_", ::getpid(), "_",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    ModelConfig config;
    config.task = Task::kRegression;
    config.num_features = 2;
    ASSERT_TRUE(registry_.Create("m", config).ok());
    auto datasets = DatasetStore::Open({(dir_ / "datasets").string()});
    ASSERT_TRUE(datasets.ok()) << datasets.status();
    datasets_ = *std::move(datasets);
    std::string csv;
    for (int i = 0; i < 50; ++i) {
      absl::StrAppend(&csv, 2 * i + 1, ",", i, ",", i % 7, "\n");
    }
    auto upload = datasets_->BeginUpload();
    ASSERT_TRUE(upload.ok()) << upload.status();
    ASSERT_TRUE((*upload)->Append(csv).ok());
    v1::UploadDatasetRequest spec;
    spec.set_total_bytes(csv.size());
    auto info = (*upload)->Finish(spec);
    ASSERT_TRUE(info.ok()) << info.status();
    dataset_id_ = info->id();
  }
  void TearDown() override {
    if (jobs_) jobs_->Shutdown();
    registry_.StopAll();
    std::filesystem::remove_all(dir_);
  }

  void StartJobs(
      std::function<void(const std::string&)> on_take = nullptr,
      std::function<void(const v1::RetrainJob&)> on_state_change = nullptr) {
    RetrainJobs::Options options;
    options.jobs_dir = (dir_ / "jobs").string();
    options.on_take = std::move(on_take);
    options.on_state_change = std::move(on_state_change);
    options.file_system = &fs_;
    auto jobs = RetrainJobs::Start(&registry_, datasets_.get(), options);
    ASSERT_TRUE(jobs.ok()) << jobs.status();
    jobs_ = *std::move(jobs);
  }

  v1::RetrainRequest Request() const {
    v1::RetrainRequest request;
    request.set_model("m");
    request.set_dataset_id(dataset_id_);
    request.set_algorithm("least_squares");
    return request;
  }

  // Every state a listener saw for job `id` until it ended (bounded wait).
  // The listener's state is shared with it: a call already under way when
  // Unsubscribe returns may still run.
  std::vector<v1::RetrainJob> WatchToEnd(const std::string& id) {
    struct Watch {
      absl::Mutex mu;
      std::vector<v1::RetrainJob> seen ABSL_GUARDED_BY(mu);
      bool ended ABSL_GUARDED_BY(mu) = false;
    };
    auto watch = std::make_shared<Watch>();
    auto token = jobs_->Subscribe(id, [watch](const v1::RetrainJob& job) {
      absl::MutexLock lock(&watch->mu);
      watch->seen.push_back(job);
      watch->ended = watch->ended || (job.state() != v1::RETRAIN_PENDING &&
                                      job.state() != v1::RETRAIN_RUNNING);
    });
    EXPECT_TRUE(token.ok());
    std::vector<v1::RetrainJob> seen;
    {
      absl::MutexLock lock(&watch->mu);
      EXPECT_TRUE(watch->mu.AwaitWithTimeout(absl::Condition(&watch->ended),
                                             absl::Seconds(30)));
      seen = watch->seen;
    }
    if (token.ok()) jobs_->Unsubscribe(*token);
    return seen;
  }

  // Job records' files in the jobs directory.
  std::vector<std::string> RecordFiles() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_ / "jobs")) {
      out.push_back(e.path().filename().string());
    }
    return out;
  }

  FaultFileSystem fs_;  // the job records' file system
  std::filesystem::path dir_;
  ModelRegistry registry_;
  std::unique_ptr<DatasetStore> datasets_;
  std::string dataset_id_;
  std::unique_ptr<RetrainJobs> jobs_;
};

TEST_F(RetrainJobsTest, CancelAfterTheJobIsTakenKeepsItCancelledAndUnstarted) {
  absl::StatusOr<v1::RetrainJob> cancelled = absl::UnknownError("not run");
  absl::Notification hook_done;
  // The worker has taken the job off the queue; the cancel comes before the
  // job starts.
  StartJobs([&](const std::string& id) {
    cancelled = jobs_->Cancel(id);
    hook_done.Notify();
  });
  absl::StatusOr<v1::RetrainJob> job = jobs_->Submit(Request());
  ASSERT_TRUE(job.ok()) << job.status();
  std::vector<v1::RetrainJob> seen = WatchToEnd(job->id());
  ASSERT_TRUE(hook_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->state(), v1::RETRAIN_CANCELLED);
  for (const v1::RetrainJob& s : seen) {
    EXPECT_NE(s.state(), v1::RETRAIN_RUNNING) << s.ShortDebugString();
  }
  absl::StatusOr<v1::RetrainJob> end = jobs_->Get(job->id());
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->state(), v1::RETRAIN_CANCELLED);
  EXPECT_EQ(end->error(), "cancelled before it started");
  EXPECT_FALSE(end->swapped());
  auto model = registry_.Get("m");
  ASSERT_TRUE(model.ok());
  EXPECT_EQ((*model)->learner.Current()->RawFunction().weights(0, 0), 0);
}

// The states on_state_change saw, as "STATE" or "STATE+swapped".
struct StateChanges {
  absl::Mutex mu;
  std::vector<std::string> seen ABSL_GUARDED_BY(mu);

  std::function<void(const v1::RetrainJob&)> Callback() {
    return [this](const v1::RetrainJob& job) {
      absl::MutexLock lock(&mu);
      seen.push_back(absl::StrCat(v1::RetrainState_Name(job.state()),
                                  job.swapped() ? "+swapped" : ""));
    };
  }
  // What was seen once `n` changes were (or after a bounded wait).
  std::vector<std::string> Seen(size_t n) {
    absl::MutexLock lock(&mu);
    wanted = n;
    mu.AwaitWithTimeout(absl::Condition(this, &StateChanges::Enough),
                        absl::Seconds(30));
    return seen;
  }
  bool Enough() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return seen.size() >= wanted;
  }
  size_t wanted ABSL_GUARDED_BY(mu) = 0;
};

TEST_F(RetrainJobsTest, StateChangesAndTheSwapAreReportedOnceEachInOrder) {
  StateChanges changes;
  StartJobs(nullptr, changes.Callback());
  absl::StatusOr<v1::RetrainJob> job = jobs_->Submit(Request());
  ASSERT_TRUE(job.ok()) << job.status();
  const std::vector<v1::RetrainJob> seen = WatchToEnd(job->id());
  ASSERT_FALSE(seen.empty());
  ASSERT_EQ(seen.back().state(), v1::RETRAIN_SUCCEEDED) << seen.back().error();
  EXPECT_THAT(changes.Seen(3), ::testing::ElementsAre(
                                   "RETRAIN_RUNNING", "RETRAIN_RUNNING+swapped",
                                   "RETRAIN_SUCCEEDED+swapped"));
}

TEST_F(RetrainJobsTest, AJobCancelledBeforeItStartsIsReportedCancelledOnly) {
  StateChanges changes;
  absl::Notification hook_done;
  StartJobs(
      [&](const std::string& id) {
        (void)jobs_->Cancel(id);
        hook_done.Notify();
      },
      changes.Callback());
  absl::StatusOr<v1::RetrainJob> job = jobs_->Submit(Request());
  ASSERT_TRUE(job.ok()) << job.status();
  WatchToEnd(job->id());
  ASSERT_TRUE(hook_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  jobs_->Shutdown();
  // Cancel reported it from the hook, and nothing after.
  EXPECT_THAT(changes.Seen(1), ::testing::ElementsAre("RETRAIN_CANCELLED"));
}

TEST_F(RetrainJobsTest, CancellingAnEndedJobSaysItEnded) {
  StartJobs();
  absl::StatusOr<v1::RetrainJob> job = jobs_->Submit(Request());
  ASSERT_TRUE(job.ok()) << job.status();
  std::vector<v1::RetrainJob> seen = WatchToEnd(job->id());
  ASSERT_FALSE(seen.empty());
  ASSERT_EQ(seen.back().state(), v1::RETRAIN_SUCCEEDED);
  EXPECT_THAT(
      jobs_->Cancel(job->id()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               ::testing::HasSubstr("already ended: RETRAIN_SUCCEEDED")));
  EXPECT_EQ(jobs_->Get(job->id())->state(), v1::RETRAIN_SUCCEEDED);
  EXPECT_THAT(jobs_->Cancel("job-nope"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(RetrainJobsTest, SubmitIsRefusedWhenTheJobRecordCannotBeWritten) {
  StartJobs();
  const struct {
    FaultFileSystem::Fault fault;
    absl::StatusCode code;
  } cases[] = {
      {{.op = Op::kWrite, .path_contains = "/jobs/", .error = ENOSPC},
       absl::StatusCode::kResourceExhausted},
      {{.op = Op::kSync, .path_contains = "/jobs/", .error = EIO},
       absl::StatusCode::kUnavailable},
      {{.op = Op::kSyncDirectory, .path_contains = "/jobs", .error = EIO},
       absl::StatusCode::kUnavailable},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(static_cast<int>(c.fault.op));
    fs_.Inject(c.fault);
    EXPECT_THAT(jobs_->Submit(Request()), StatusIs(c.code));
    EXPECT_EQ(fs_.PendingFaults(), 0);
    EXPECT_TRUE(jobs_->List().empty());  // never queued
    EXPECT_THAT(RecordFiles(), ::testing::IsEmpty());
  }
  // A restart knows of no job either; then the disk works again.
  jobs_->Shutdown();
  StartJobs();
  EXPECT_TRUE(jobs_->List().empty());
  absl::StatusOr<v1::RetrainJob> job = jobs_->Submit(Request());
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(WatchToEnd(job->id()).back().state(), v1::RETRAIN_SUCCEEDED);
}

TEST_F(RetrainJobsTest, AJobWhoseLaterRecordsFailRunsAndARestartSaysAborted) {
  // From the moment the worker takes the job, no record can be written.
  StartJobs([&](const std::string&) {
    fs_.Inject({.op = Op::kSync,
                .path_contains = "/jobs/",
                .error = EIO,
                .times = -1});
  });
  absl::StatusOr<v1::RetrainJob> job = jobs_->Submit(Request());
  ASSERT_TRUE(job.ok()) << job.status();
  std::vector<v1::RetrainJob> seen = WatchToEnd(job->id());
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().state(), v1::RETRAIN_SUCCEEDED);
  EXPECT_TRUE(seen.back().swapped());
  EXPECT_GT(fs_.Hits(Op::kSync, "/jobs/"), 0);
  jobs_->Shutdown();
  fs_.Clear();
  StartJobs();
  // Its last durable record said PENDING.
  absl::StatusOr<v1::RetrainJob> after = jobs_->Get(job->id());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->state(), v1::RETRAIN_ABORTED);
}

// A job record waiting on its fsync holds no lock that readers of the jobs
// need.
TEST_F(RetrainJobsTest, NoLockIsHeldAcrossAJobRecordFsync) {
  StartJobs();
  absl::Notification held, release;
  std::atomic<bool> first{true};
  fs_.SetHook([&](Op op, const std::string& path) {
    if (op == Op::kSync && absl::StrContains(path, "/jobs/") &&
        first.exchange(false)) {
      held.Notify();
      release.WaitForNotification();
    }
  });
  absl::StatusOr<v1::RetrainJob> job = absl::UnknownError("not run");
  std::thread submit([&] { job = jobs_->Submit(Request()); });
  ASSERT_TRUE(held.WaitForNotificationWithTimeout(absl::Seconds(30)));
  absl::Notification read;
  std::thread reader([&] {
    EXPECT_TRUE(jobs_->List().empty());  // not queued before it is durable
    EXPECT_THAT(jobs_->Get("job-nope"), StatusIs(absl::StatusCode::kNotFound));
    // Another job for the same model waits for nothing either.
    EXPECT_THAT(jobs_->Submit(Request()),
                StatusIs(absl::StatusCode::kFailedPrecondition));
    read.Notify();
  });
  // Generous: the reads take microseconds unless they wait for the fsync.
  EXPECT_TRUE(read.WaitForNotificationWithTimeout(absl::Seconds(10)));
  release.Notify();
  reader.join();
  submit.join();
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(WatchToEnd(job->id()).back().state(), v1::RETRAIN_SUCCEEDED);
}

}  // namespace
}  // namespace streamfit
