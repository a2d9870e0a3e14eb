// Retrain jobs: fit a live model to an uploaded dataset on a small worker
// pool, compare it with the live model on a holdout, and swap it in through
// Learner::Adopt (which replays the samples learned meanwhile) or, in Kafka
// mode, through the model's topic (kafka::ModelTopic::PublishRetrain).
//
// Jobs live in memory; each state change (not progress) is also written to
// <jobs_dir>/<id>.job (atomically, through a FileSystem), so a job that was
// pending or running when the server stopped is reported ABORTED after a
// restart (its model untouched: a swap is never half done, as it happens on
// the learner thread in one step). A job's records are written one at a
// time, newest last, and never under the jobs' mutex.
#ifndef STREAMFIT_SERVER_RETRAIN_JOBS_H_
#define STREAMFIT_SERVER_RETRAIN_JOBS_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/storage/file_system.h"
#include "server/dataset_store.h"
#include "server/kafka/catalogue.h"
#include "server/model_registry.h"
#include "streamfit/v1/streamfit.pb.h"

namespace streamfit {

// Thread-safe. `registry` and `datasets` must outlive it. Submit, Cancel
// and Shutdown wait for a job record's fsync: call them off gRPC callback
// threads.
class RetrainJobs {
 public:
  struct Options {
    std::string jobs_dir;  // created if missing
    int threads = 1;       // jobs running at once (one per model at most)
    // Samples a model may learn during a job; past that the swap fails with
    // RESOURCE_EXHAUSTED rather than hold more in memory.
    uint64_t replay_limit = 1 << 22;
    // Test switch (null in production): runs on a worker with a job's id
    // after it takes the job off the queue, before the job starts.
    std::function<void(const std::string&)> on_take;
    // Called with the job after each change of its state (PENDING to
    // RUNNING, to an end state) and after its swap (`swapped` set, still
    // RUNNING); not for progress. Runs off any lock on the thread that made
    // the change, in order for one job. Null for none.
    std::function<void(const v1::RetrainJob&)> on_state_change;
    FileSystem* file_system = DefaultFileSystem();  // not owned
    // Kafka mode (not owned): a fit is published to the model's topic and
    // adopted there by every replica, which read the samples learned since
    // the job started again from the topic (replay_limit does not apply).
    kafka::Catalogue* catalogue = nullptr;
    // Reads a model's recent samples (RetrainRequest.recent_samples); not
    // owned; null: such a request is FAILED_PRECONDITION.
    ModelStore* store = nullptr;
  };
  // Called with the job after each change (progress included), off any lock.
  using Listener = std::function<void(const v1::RetrainJob&)>;

  // Loads the job records of earlier runs, marking unfinished ones ABORTED,
  // and starts the workers.
  static absl::StatusOr<std::unique_ptr<RetrainJobs>> Start(
      ModelRegistry* registry, DatasetStore* datasets, Options options);
  // Shutdown().
  ~RetrainJobs();

  // Validates and queues a job (see the Retrain RPC for the statuses). The
  // job's record is durable before it is queued; if it cannot be written,
  // the job is not queued and the file error is returned.
  absl::StatusOr<v1::RetrainJob> Submit(const v1::RetrainRequest& request);
  // NOT_FOUND for an unknown id.
  absl::StatusOr<v1::RetrainJob> Get(const std::string& id) const;
  // A pending job ends CANCELLED at once and never starts; a running one is
  // asked to stop and ends CANCELLED unless it finishes first (the returned
  // state is RUNNING then). FAILED_PRECONDITION for a job that already
  // ended, NOT_FOUND for an unknown id.
  absl::StatusOr<v1::RetrainJob> Cancel(const std::string& id);
  std::vector<v1::RetrainJob> List() const;  // oldest first
  // Calls `listener` with the job now and after each change. Returns a token
  // for Unsubscribe; NOT_FOUND for an unknown id.
  absl::StatusOr<uint64_t> Subscribe(const std::string& id, Listener listener);
  void Unsubscribe(uint64_t token);

  // Cancels every job, marks unfinished ones ABORTED and joins the workers.
  // Idempotent.
  void Shutdown();

 private:
  // A job's fields but `cancelled` are guarded by mu_.
  struct Job {
    v1::RetrainJob state;
    std::atomic<bool> cancelled{false};
    uint64_t changes = 0;        // state changes to be recorded, counted
    uint64_t recorded = 0;       // the changes the newest record write covered
    absl::Status record_status;  // that write's outcome
    bool recording = false;      // a record write is under way
  };

  RetrainJobs(ModelRegistry* registry, DatasetStore* datasets, Options options)
      : registry_(registry),
        datasets_(datasets),
        options_(std::move(options)),
        fs_(options_.file_system) {}
  // A job's request and id, taken when it starts running.
  struct Started {
    v1::RetrainRequest request;
    std::string id;
  };

  void Work();
  // Starts `job` unless it was cancelled since it was taken, then runs it.
  void Run(Job& job);
  // Marks `job` running; nullopt if it was cancelled since it was taken.
  std::optional<Started> MarkRunning(Job& job);
  // Loads and splits the dataset, fits, compares on the holdout and, as the
  // swap policy says, swaps the fit in. OK when the job succeeded, CANCELLED
  // when it was cancelled, else why it failed; the live model is unchanged
  // unless the swap happened.
  absl::Status Retrain(Job& job, const Started& started);
  // The fit of the model's config (with the request's overrides) on `train`,
  // reporting progress into `job`.
  absl::StatusOr<LinearModel> FitReporting(Job& job,
                                           const v1::RetrainRequest& request,
                                           const LiveModel& model,
                                           const ExampleBatch& train);
  // Has the learner adopt `fitted` (replaying what it learned since the
  // cutoff) and records the swap durably; the version it took effect at.
  // With `topic` (Kafka mode), publishes it there from `kafka_cutoff`; the
  // topic records it on every replica (ModelTopic::PublishRetrain).
  absl::StatusOr<uint64_t> SwapIn(
      const Started& started, LiveModel& model, LinearModel fitted,
      kafka::ModelTopic* topic,
      const std::optional<kafka::RetrainCutoff>& kafka_cutoff);
  // Ends `job` as `status` says (see Retrain).
  void Finish(Job& job, const absl::Status& status);
  // Applies `change` to a job's state, persists it when `persist`, and
  // notifies listeners. `change` runs under mu_, so a change that first
  // checks the state is atomic with respect to every other change.
  void Update(Job& job, const std::function<void(v1::RetrainJob&)>& change,
              bool persist);
  // Writes `job`'s record as of change `change` or later (waiting for a
  // write under way; mu_ is not held across the write) and returns the
  // outcome of the write that covered it. Failures are also logged.
  absl::Status Persist(Job& job, uint64_t change);
  absl::Status WriteRecord(const v1::RetrainJob& job) const;
  static bool Finished(const v1::RetrainJob& job);
  static int64_t NowMillis();
  // A batch fit learns dense features only (datasets have no others), and
  // the fitted model replaces the live one: FAILED_PRECONDITION while the
  // live model holds state for hashed or named features, which the swap
  // would drop.
  static absl::Status CheckNoHashedWeights(const LiveModel& model);

  static constexpr char kAbortedMessage[] = "the server stopped during the job";

  ModelRegistry* const registry_;
  DatasetStore* const datasets_;
  const Options options_;

  FileSystem* const fs_;

  mutable absl::Mutex mu_;
  absl::CondVar work_;
  absl::CondVar recorded_;  // a record write ended
  // Models whose job is being submitted (its first record being written).
  std::set<std::string> submitting_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<Job>> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);  // by creation
  std::deque<std::shared_ptr<Job>> pending_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::pair<std::string, Listener>> listeners_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_RETRAIN_JOBS_H_
