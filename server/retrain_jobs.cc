#include "server/retrain_jobs.h"

#include <algorithm>
#include <cmath>
#include <future>
#include <optional>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/batch_trainer.h"
#include "core/status_macros.h"
#include "core/storage/file_util.h"
#include "core/thread_name.h"
#include "server/logging.h"

namespace streamfit {
namespace {

constexpr char kAbortedMessage[] = "the server stopped during the job";

int64_t NowMillis() { return absl::ToUnixMillis(absl::Now()); }

// The rows a retrain fits, and those it compares the fit and the live model
// on.
struct TrainAndHoldout {
  ExampleBatch train;
  ExampleBatch holdout;
};

// Splits `data`: a seeded random `fraction` of the rows is held out; both
// parts keep the file's row order.
TrainAndHoldout Split(const ExampleBatch& data, double fraction,
                      uint64_t seed) {
  const size_t n = data.size();
  const size_t held = static_cast<size_t>(std::floor(n * fraction));
  ExampleBatch train, holdout;
  train.num_features = holdout.num_features = data.num_features;
  if (held == 0) return {data, holdout};
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(seed);
  for (size_t i = n - 1; i > 0; --i) {
    std::swap(order[i], order[rng() % (i + 1)]);
  }
  std::vector<bool> is_held(n, false);
  for (size_t i = 0; i < held; ++i) is_held[order[i]] = true;
  for (size_t i = 0; i < n; ++i) {
    (is_held[i] ? holdout : train)
        .Add(data.row(i), data.labels[i], data.weights[i]);
  }
  return {std::move(train), std::move(holdout)};
}

// A batch fit learns dense features only (datasets have no others), and the
// fitted model replaces the live one: refused while the live model holds
// state for hashed or named features, which the swap would drop. Checked
// early on the published state for a prompt answer; the learner checks the
// model at the cutoff itself when it adopts the fit.
absl::Status CheckNoHashedWeights(const LiveModel& model) {
  if (!model.learner.Current()->HasHashedState()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "model '", model.name,
      "' has learned hashed or named features; a batch retrain fits dense "
      "features only and its swap would drop them"));
}

// The job's dataset, checked against the model and split into the rows to
// fit and the held-out rows (`Split`); the whole dataset is freed on return.
absl::StatusOr<TrainAndHoldout> LoadAndSplit(DatasetStore& datasets,
                                             const v1::RetrainRequest& request,
                                             const LiveModel& model) {
  ASSIGN_OR_RETURN(const ExampleBatch data,
                   datasets.Load(request.dataset_id()));
  if (absl::Status s = ValidateBatch(data, model.config); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset '", request.dataset_id(),
                     "' does not fit model '", model.name, "': ", s.message()));
  }
  TrainAndHoldout split = Split(data, request.holdout_fraction(),
                                request.seed() == 0 ? 1 : request.seed());
  if (split.train.size() == 0) {
    return absl::InvalidArgumentError("no rows are left to train on");
  }
  return split;
}

// Ends a learner's recording when it goes out of scope, unless released
// (Learner::Adopt ends it itself).
class RecordingScope {
 public:
  explicit RecordingScope(Learner& learner) : learner_(&learner) {}
  RecordingScope(const RecordingScope&) = delete;
  RecordingScope& operator=(const RecordingScope&) = delete;
  ~RecordingScope() {
    if (learner_ != nullptr) learner_->EndRecording();
  }
  void Release() { learner_ = nullptr; }

 private:
  Learner* learner_;
};

FitOptions ToFitOptions(const v1::RetrainRequest& r, FitAlgorithm algorithm) {
  FitOptions o;
  o.algorithm = algorithm;
  o.epochs = r.epochs();
  o.max_iterations = r.max_iterations();
  if (r.batch_size() > 0) o.batch_size = r.batch_size();
  if (r.has_learning_rate()) o.learning_rate = r.learning_rate();
  if (r.has_tolerance()) o.tolerance = r.tolerance();
  o.seed = r.seed() == 0 ? 1 : r.seed();
  return o;
}

}  // namespace

bool RetrainJobs::Finished(const v1::RetrainJob& job) {
  return job.state() != v1::RETRAIN_PENDING &&
         job.state() != v1::RETRAIN_RUNNING &&
         job.state() != v1::RETRAIN_STATE_UNSPECIFIED;
}

absl::StatusOr<std::unique_ptr<RetrainJobs>> RetrainJobs::Start(
    ModelRegistry* registry, DatasetStore* datasets, Options options) {
  FileSystem* const fs = options.file_system;
  if (absl::Status s = fs->CreateDirectories(options.jobs_dir); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create jobs directory ", options.jobs_dir, ": ", s.message()));
  }
  std::unique_ptr<RetrainJobs> jobs(
      new RetrainJobs(registry, datasets, options));
  ASSIGN_OR_RETURN(const std::vector<std::string> names,
                   fs->ListDirectory(options.jobs_dir));
  std::vector<v1::RetrainJob> loaded;
  for (const std::string& name : names) {
    const std::string path = absl::StrCat(options.jobs_dir, "/", name);
    if (!absl::EndsWith(name, ".job")) {
      if (absl::EndsWith(name, ".tmp")) (void)fs->Remove(path);
      continue;
    }
    absl::StatusOr<std::string> bytes = ReadWholeFile(path, fs);
    v1::RetrainJob job;
    if (!bytes.ok() || !job.ParseFromString(*bytes)) continue;
    if (!Finished(job)) {
      job.set_state(v1::RETRAIN_ABORTED);
      job.set_error(kAbortedMessage);
      job.set_finished_unix_ms(NowMillis());
      (void)jobs->WriteRecord(job);  // logged; reads ABORTED again if lost
    }
    loaded.push_back(std::move(job));
  }
  std::sort(loaded.begin(), loaded.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.created_unix_ms(), a.id()) <
           std::make_pair(b.created_unix_ms(), b.id());
  });
  {
    absl::MutexLock lock(&jobs->mu_);
    for (v1::RetrainJob& job : loaded) {
      auto j = std::make_shared<Job>();
      j->state = std::move(job);
      jobs->order_.push_back(j->state.id());
      jobs->jobs_.emplace(j->state.id(), std::move(j));
    }
  }
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    jobs->workers_.emplace_back([p = jobs.get()] {
      NameThisThread("sf-retrain");
      p->Work();
    });
  }
  return jobs;
}

RetrainJobs::~RetrainJobs() { Shutdown(); }

absl::Status RetrainJobs::WriteRecord(const v1::RetrainJob& job) const {
  absl::Status s = WriteFileAtomically(
      absl::StrCat(options_.jobs_dir, "/", job.id(), ".job"),
      job.SerializeAsString(), fs_);
  if (!s.ok()) {
    logging::Error(
        "retrain.record_failed",
        absl::StrCat("record of retrain job ", job.id(), " (",
                     v1::RetrainState_Name(job.state()), "): ", s.ToString()),
        {{"job", job.id()}});
  }
  return s;
}

absl::Status RetrainJobs::Persist(Job& job, uint64_t change) {
  v1::RetrainJob record;
  uint64_t covers;
  {
    absl::MutexLock lock(&mu_);
    while (job.recording) recorded_.Wait(&mu_);
    if (job.recorded >= change) return job.record_status;  // written since
    job.recording = true;
    record = job.state;
    covers = job.changes;
  }
  const absl::Status status = WriteRecord(record);
  absl::MutexLock lock(&mu_);
  job.recording = false;
  job.recorded = covers;
  job.record_status = status;
  recorded_.SignalAll();
  return status;
}

absl::StatusOr<v1::RetrainJob> RetrainJobs::Submit(
    const v1::RetrainRequest& request) {
  ASSIGN_OR_RETURN(std::shared_ptr<LiveModel> model,
                   registry_->Get(request.model()));
  RETURN_IF_ERROR(model->CheckNotFailed());
  if (request.dataset_id().empty()) {
    return absl::InvalidArgumentError("dataset_id is empty");
  }
  ASSIGN_OR_RETURN(const v1::DatasetInfo dataset,
                   datasets_->Get(request.dataset_id()));
  if (dataset.num_features() != model->config.num_features) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset '", dataset.id(), "' has ",
                     dataset.num_features(), " features; model '", model->name,
                     "' takes ", model->config.num_features));
  }
  RETURN_IF_ERROR(CheckNoHashedWeights(*model));
  ASSIGN_OR_RETURN(
      const FitAlgorithm algorithm,
      ParseFitAlgorithm(request.algorithm().empty() ? "full_batch_gd"
                                                    : request.algorithm()));
  if (algorithm == FitAlgorithm::kLeastSquares &&
      model->config.task != Task::kRegression) {
    return absl::InvalidArgumentError(
        "least_squares fits regression models only; use lbfgs");
  }
  const double h = request.holdout_fraction();
  if (!(h >= 0 && h < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("holdout_fraction must be in [0, 1), got ", h));
  }
  if (request.has_l2() && !(request.l2() >= 0 && std::isfinite(request.l2()))) {
    return absl::InvalidArgumentError("l2 must be finite and >= 0");
  }
  if (request.has_learning_rate() &&
      !(request.learning_rate() > 0 &&
        std::isfinite(request.learning_rate()))) {
    return absl::InvalidArgumentError("learning_rate must be finite and > 0");
  }
  if (request.has_tolerance() && !(request.tolerance() >= 0)) {
    return absl::InvalidArgumentError("tolerance must be >= 0");
  }
  auto job = std::make_shared<Job>();
  v1::RetrainJob& s = job->state;
  *s.mutable_request() = request;
  s.mutable_request()->set_algorithm(std::string(FitAlgorithmName(algorithm)));
  if (s.request().swap_policy() == v1::SWAP_POLICY_UNSPECIFIED) {
    s.mutable_request()->set_swap_policy(v1::SWAP_ALWAYS);
  }
  s.set_state(v1::RETRAIN_PENDING);
  s.set_created_unix_ms(NowMillis());
  s.mutable_progress()->set_phase("pending");
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("the server is stopping");
    if (submitting_.count(request.model()) > 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "model '", request.model(), "' already has a job being submitted"));
    }
    for (const auto& [id, other] : jobs_) {
      if (other->state.request().model() == request.model() &&
          !Finished(other->state)) {
        return absl::FailedPreconditionError(
            absl::StrCat("model '", request.model(), "' already has job ", id,
                         " pending or running"));
      }
    }
    s.set_id(absl::StrCat("job-", s.created_unix_ms(), "-", next_id_++));
    submitting_.insert(request.model());
  }
  // The record is durable before the job exists: an OK reply means a
  // restart reports the job (ABORTED if it had not ended).
  absl::Status written = WriteRecord(s);
  absl::MutexLock lock(&mu_);
  submitting_.erase(request.model());
  if (written.ok() && stopping_) {
    written = absl::UnavailableError("the server is stopping");
  }
  if (!written.ok()) {
    (void)fs_->Remove(absl::StrCat(options_.jobs_dir, "/", s.id(), ".job"));
    return written;
  }
  job->changes = job->recorded = 1;
  jobs_.emplace(s.id(), job);
  order_.push_back(s.id());
  pending_.push_back(job);
  work_.Signal();
  return s;
}

absl::StatusOr<v1::RetrainJob> RetrainJobs::Get(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    return absl::NotFoundError(
        absl::StrCat("retrain job '", id, "' not found"));
  }
  return it->second->state;
}

std::vector<v1::RetrainJob> RetrainJobs::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::RetrainJob> out;
  for (const std::string& id : order_) out.push_back(jobs_.at(id)->state);
  return out;
}

absl::StatusOr<v1::RetrainJob> RetrainJobs::Cancel(const std::string& id) {
  std::shared_ptr<Job> job;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) {
      return absl::NotFoundError(
          absl::StrCat("retrain job '", id, "' not found"));
    }
    job = it->second;
    if (Finished(job->state)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "retrain job '", id,
          "' already ended: ", v1::RetrainState_Name(job->state.state())));
    }
    job->cancelled = true;  // a running job stops at its next check
  }
  // A pending job ends here; the check is atomic with Run's start, so the
  // job either starts (and sees `cancelled`) or never does.
  Update(
      *job,
      [](v1::RetrainJob& s) {
        if (s.state() != v1::RETRAIN_PENDING) return;
        s.set_state(v1::RETRAIN_CANCELLED);
        s.set_error("cancelled before it started");
        s.set_finished_unix_ms(NowMillis());
      },
      true);
  return Get(id);
}

absl::StatusOr<uint64_t> RetrainJobs::Subscribe(const std::string& id,
                                                Listener listener) {
  v1::RetrainJob now;
  uint64_t token;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) {
      return absl::NotFoundError(
          absl::StrCat("retrain job '", id, "' not found"));
    }
    now = it->second->state;
    token = next_token_++;
    listeners_.emplace(token, std::make_pair(id, listener));
  }
  listener(now);
  return token;
}

void RetrainJobs::Unsubscribe(uint64_t token) {
  absl::MutexLock lock(&mu_);
  listeners_.erase(token);
}

void RetrainJobs::Update(Job& job,
                         const std::function<void(v1::RetrainJob&)>& change,
                         bool persist) {
  v1::RetrainJob copy;
  uint64_t change_number = 0;
  std::vector<Listener> to_call;
  bool state_changed = false;
  {
    absl::MutexLock lock(&mu_);
    const v1::RetrainState state = job.state.state();
    const bool swapped = job.state.swapped();
    change(job.state);
    copy = job.state;
    state_changed = copy.state() != state || copy.swapped() != swapped;
    if (persist) change_number = ++job.changes;
    for (const auto& [token, entry] : listeners_) {
      if (entry.first == copy.id()) to_call.push_back(entry.second);
    }
  }
  // A record that cannot be written is logged; the job goes on (after a
  // restart it reads as its last record says, ABORTED if unfinished).
  if (persist) (void)Persist(job, change_number);
  if (state_changed && options_.on_state_change) options_.on_state_change(copy);
  for (const Listener& l : to_call) l(copy);
}

void RetrainJobs::Work() {
  for (;;) {
    std::shared_ptr<Job> job;
    std::string id;
    {
      absl::MutexLock lock(&mu_);
      while (pending_.empty() && !stopping_) work_.Wait(&mu_);
      if (stopping_) return;
      job = std::move(pending_.front());
      pending_.pop_front();
      if (job->state.state() != v1::RETRAIN_PENDING) continue;  // cancelled
      id = job->state.id();
    }
    if (options_.on_take) options_.on_take(id);
    Run(*job);
  }
}

void RetrainJobs::Run(Job& job) {
  const std::optional<Started> started = MarkRunning(job);
  if (!started) return;  // cancelled meanwhile
  Finish(job, Retrain(job, *started));
}

std::optional<RetrainJobs::Started> RetrainJobs::MarkRunning(Job& job) {
  std::optional<Started> started;
  Update(
      job,
      [&](v1::RetrainJob& s) {
        if (s.state() != v1::RETRAIN_PENDING) return;
        s.set_state(v1::RETRAIN_RUNNING);
        s.mutable_progress()->set_phase("loading");
        started = Started{s.request(), s.id()};
      },
      true);
  return started;
}

absl::Status RetrainJobs::Retrain(Job& job, const Started& started) {
  const v1::RetrainRequest& request = started.request;
  ASSIGN_OR_RETURN(const std::shared_ptr<LiveModel> model,
                   registry_->Get(request.model()));
  ASSIGN_OR_RETURN(const TrainAndHoldout data,
                   LoadAndSplit(*datasets_, request, *model));
  RETURN_IF_ERROR(CheckNoHashedWeights(*model));
  // Everything the model learns from here on is replayed onto the fit.
  ASSIGN_OR_RETURN(const uint64_t cutoff,
                   model->learner.BeginRecording(options_.replay_limit));
  RecordingScope recording(model->learner);
  Update(
      job,
      [&](v1::RetrainJob& s) {
        s.set_cutoff_version(cutoff);
        s.mutable_progress()->set_phase("fitting");
        s.mutable_metrics()->set_train_rows(data.train.size());
        s.mutable_metrics()->set_holdout_rows(data.holdout.size());
      },
      false);
  const absl::Time fit_start = absl::Now();
  ASSIGN_OR_RETURN(LinearModel fitted,
                   FitReporting(job, request, *model, data.train));
  const double fit_seconds = absl::ToDoubleSeconds(absl::Now() - fit_start);

  double new_loss = 0, live_loss = 0;
  if (data.holdout.size() > 0) {
    new_loss = MeanLoss(fitted, data.holdout);
    live_loss = MeanLoss(*model->learner.Current(), data.holdout);
  }
  const v1::SwapPolicy policy = request.swap_policy();
  const bool swap = policy == v1::SWAP_ALWAYS ||
                    policy == v1::SWAP_POLICY_UNSPECIFIED ||
                    (policy == v1::SWAP_IF_BETTER && data.holdout.size() > 0 &&
                     new_loss < live_loss);
  Update(
      job,
      [&](v1::RetrainJob& s) {
        auto* m = s.mutable_metrics();
        m->set_new_holdout_loss(new_loss);
        m->set_live_holdout_loss(live_loss);
        m->set_fit_seconds(fit_seconds);
        s.mutable_progress()->set_phase(swap ? "swapping" : "done");
      },
      false);
  if (job.cancelled) return absl::CancelledError("cancelled");
  if (!swap) return absl::OkStatus();

  recording.Release();  // Adopt ends it either way
  ASSIGN_OR_RETURN(const uint64_t version,
                   SwapIn(started, *model, std::move(fitted)));
  Update(
      job,
      [&](v1::RetrainJob& s) {
        s.set_swapped(true);
        s.set_swap_version(version);
        s.set_replayed_samples(version - cutoff);
      },
      false);
  return absl::OkStatus();
}

absl::StatusOr<LinearModel> RetrainJobs::FitReporting(
    Job& job, const v1::RetrainRequest& request, const LiveModel& model,
    const ExampleBatch& train) {
  ModelConfig fit_config = model.config;
  if (request.has_l2()) fit_config.l2 = request.l2();
  FitOptions fit =
      ToFitOptions(request, *ParseFitAlgorithm(request.algorithm()));
  fit.cancelled = &job.cancelled;
  absl::StatusOr<LinearModel> warm = absl::UnknownError("unused");
  if (request.warm_start()) {
    warm = LinearModel::FromState(fit_config, 0,
                                  model.learner.Current()->ExportState());
    if (!warm.ok()) return warm.status();
    fit.warm_start = &*warm;
  }
  absl::Time last_report = absl::InfinitePast();
  FitProgress last_progress;
  auto report = [&](const FitProgress& p) {
    Update(
        job,
        [&](v1::RetrainJob& s) {
          auto* progress = s.mutable_progress();
          progress->set_step(p.step);
          progress->set_max_steps(p.max_steps);
          progress->set_objective(p.objective);
        },
        false);
  };
  fit.on_progress = [&](const FitProgress& p) {
    last_progress = p;
    if (absl::Now() - last_report < absl::Milliseconds(100)) return;
    last_report = absl::Now();
    report(p);
  };
  ASSIGN_OR_RETURN(LinearModel fitted, Fit(fit_config, train, fit));
  report(last_progress);  // the final step, which throttling may have skipped
  if (fit_config == model.config) return fitted;
  // The overrides shaped the fit only: the live config goes on.
  return LinearModel::FromState(model.config, 0, fitted.ExportState());
}

absl::StatusOr<uint64_t> RetrainJobs::SwapIn(const Started& started,
                                             LiveModel& model,
                                             LinearModel fitted) {
  std::promise<absl::StatusOr<uint64_t>> adopted;
  SwapRecord record;
  record.job_id = started.id;
  record.algorithm = started.request.algorithm();
  record.dataset_id = started.request.dataset_id();
  model.learner.Adopt(
      std::move(fitted),
      [&adopted](absl::StatusOr<uint64_t> version) {
        adopted.set_value(std::move(version));
      },
      [&record](const LinearModel& replaced, const LinearModel& fit) {
        record.replaced = replaced.metrics();
        record.adopted = fit.metrics();
      });
  ASSIGN_OR_RETURN(record.version, adopted.get_future().get());
  // The log holds samples, not the fit: a checkpoint makes the swap durable
  // (then the lineage records it). A crash before it leaves the job
  // unfinished, so it reads ABORTED.
  if (absl::Status s = registry_->RecordSwap(model, record); !s.ok()) {
    return absl::Status(
        s.code(), absl::StrCat("swapped in, but its checkpoint failed (a "
                               "restart would bring back the old model): ",
                               s.message()));
  }
  return record.version;
}

void RetrainJobs::Finish(Job& job, const absl::Status& status) {
  v1::RetrainState state = status.ok()                 ? v1::RETRAIN_SUCCEEDED
                           : absl::IsCancelled(status) ? v1::RETRAIN_CANCELLED
                                                       : v1::RETRAIN_FAILED;
  if (state == v1::RETRAIN_CANCELLED) {
    absl::MutexLock lock(&mu_);
    if (stopping_) state = v1::RETRAIN_ABORTED;
  }
  Update(
      job,
      [&](v1::RetrainJob& s) {
        s.set_state(state);
        if (state == v1::RETRAIN_ABORTED) {
          s.set_error(kAbortedMessage);
        } else if (!status.ok()) {
          s.set_error(status.ToString());
        }
        s.mutable_progress()->set_phase("done");
        s.set_finished_unix_ms(NowMillis());
      },
      true);
}

void RetrainJobs::Shutdown() {
  std::vector<std::shared_ptr<Job>> pending;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [id, job] : jobs_) job->cancelled = true;
    pending.assign(pending_.begin(), pending_.end());
    pending_.clear();
    work_.SignalAll();
  }
  for (std::thread& t : workers_) t.join();
  for (const auto& job : pending) {
    Update(
        *job,
        [](v1::RetrainJob& s) {
          if (Finished(s)) return;
          s.set_state(v1::RETRAIN_ABORTED);
          s.set_error(kAbortedMessage);
          s.set_finished_unix_ms(NowMillis());
        },
        true);
  }
}

}  // namespace streamfit
