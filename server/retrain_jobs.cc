#include "server/retrain_jobs.h"

#include <algorithm>

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

int64_t RetrainJobs::NowMillis() { return absl::ToUnixMillis(absl::Now()); }

// A batch fit learns dense features only (datasets have no others), and the
// fitted model replaces the live one: refused while the live model holds
// state for hashed or named features, which the swap would drop. Checked
// early on the published state for a prompt answer; the learner checks the
// model at the cutoff itself when it adopts the fit.
absl::Status RetrainJobs::CheckNoHashedWeights(const LiveModel& model) {
  if (!model.learner.Current()->HasHashedState()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "model '", model.name,
      "' has learned hashed or named features; a batch retrain fits dense "
      "features only and its swap would drop them"));
}

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
  if (request.recent_samples() > 0) {
    if (!request.dataset_id().empty()) {
      return absl::InvalidArgumentError(
          "set dataset_id or recent_samples, not both");
    }
    if (options_.store == nullptr || model->log == nullptr) {
      return absl::FailedPreconditionError(
          "recent_samples reads the model's sample log, which this server "
          "does not keep (Kafka mode)");
    }
  } else {
    if (request.dataset_id().empty()) {
      return absl::InvalidArgumentError(
          "dataset_id is empty (and recent_samples is 0)");
    }
    ASSIGN_OR_RETURN(const v1::DatasetInfo dataset,
                     datasets_->Get(request.dataset_id()));
    if (dataset.num_features() != model->config.num_features) {
      return absl::InvalidArgumentError(
          absl::StrCat("dataset '", dataset.id(), "' has ",
                       dataset.num_features(), " features; model '",
                       model->name, "' takes ", model->config.num_features));
    }
  }
  RETURN_IF_ERROR(CheckNoHashedWeights(*model));
  ASSIGN_OR_RETURN(
      const FitAlgorithm algorithm,
      ParseFitAlgorithm(request.algorithm().empty() ? "full_batch_gd"
                                                    : request.algorithm()));
  RETURN_IF_ERROR(CheckFitsTask(algorithm, model->config.task));
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
