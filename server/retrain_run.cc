// RetrainJobs methods that run one job: load and split its dataset, fit
// with progress reports, compare the fit and the live model on the holdout,
// swap the fit in, and record how the job ended.
#include <algorithm>
#include <cmath>
#include <future>
#include <optional>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/batch_trainer.h"
#include "core/status_macros.h"
#include "server/model_store.h"
#include "server/retrain_jobs.h"

namespace streamfit {
namespace {

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

// `data` (the job's dataset, or the model's recent samples), checked
// against the model and split into the rows to fit and the held-out rows
// (`Split`).
absl::StatusOr<TrainAndHoldout> CheckAndSplit(const ExampleBatch& data,
                                              const v1::RetrainRequest& request,
                                              const LiveModel& model) {
  if (absl::Status s = ValidateBatch(data, model.config); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        request.dataset_id().empty()
            ? "the model's recent samples"
            : absl::StrCat("the rows of dataset '", request.dataset_id(), "'"),
        " do not fit model '", model.name, "': ", s.message()));
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
  // A dataset is loaded before the recording starts (which holds samples in
  // memory until the swap); the model's own recent samples end at the
  // cutoff, so they are read once it is set.
  std::optional<TrainAndHoldout> data;
  if (request.recent_samples() == 0) {
    ASSIGN_OR_RETURN(const ExampleBatch rows,
                     datasets_->Load(request.dataset_id()));
    ASSIGN_OR_RETURN(data, CheckAndSplit(rows, request, *model));
  }
  RETURN_IF_ERROR(CheckNoHashedWeights(*model));
  // Everything the model learns from here on is replayed onto the fit: from
  // the learner's recording, or in Kafka mode from the model's topic.
  std::shared_ptr<kafka::ModelTopic> topic;
  std::optional<kafka::RetrainCutoff> kafka_cutoff;
  std::optional<RecordingScope> recording;
  uint64_t cutoff;
  if (options_.catalogue != nullptr) {
    topic = options_.catalogue->Topic(request.model());
    if (topic == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("model '", request.model(), "' not found"));
    }
    kafka_cutoff = topic->Cutoff();
    cutoff = kafka_cutoff->version;
  } else {
    ASSIGN_OR_RETURN(cutoff,
                     model->learner.BeginRecording(options_.replay_limit));
    recording.emplace(model->learner);
  }
  if (!data) {
    const uint64_t from = cutoff - std::min(cutoff, request.recent_samples());
    ASSIGN_OR_RETURN(const ExampleBatch rows,
                     options_.store->ReadSamples(*model, from, cutoff));
    ASSIGN_OR_RETURN(data, CheckAndSplit(rows, request, *model));
  }
  Update(
      job,
      [&](v1::RetrainJob& s) {
        s.set_cutoff_version(cutoff);
        s.mutable_progress()->set_phase("fitting");
        s.mutable_metrics()->set_train_rows(data->train.size());
        s.mutable_metrics()->set_holdout_rows(data->holdout.size());
      },
      false);
  const absl::Time fit_start = absl::Now();
  ASSIGN_OR_RETURN(LinearModel fitted,
                   FitReporting(job, request, *model, data->train));
  const double fit_seconds = absl::ToDoubleSeconds(absl::Now() - fit_start);

  double new_loss = 0, live_loss = 0;
  if (data->holdout.size() > 0) {
    new_loss = MeanLoss(fitted, data->holdout);
    live_loss = MeanLoss(*model->learner.Current(), data->holdout);
  }
  const v1::SwapPolicy policy = request.swap_policy();
  const bool swap = policy == v1::SWAP_ALWAYS ||
                    policy == v1::SWAP_POLICY_UNSPECIFIED ||
                    (policy == v1::SWAP_IF_BETTER && data->holdout.size() > 0 &&
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

  if (recording) recording->Release();  // Adopt ends it either way
  ASSIGN_OR_RETURN(
      const uint64_t version,
      SwapIn(started, *model, std::move(fitted), topic.get(), kafka_cutoff));
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
  // The config learning now (a promoted challenger brings its own).
  const ModelConfig live_config = model.learner.Current()->config();
  ModelConfig fit_config = live_config;
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
  if (fit_config == live_config) return fitted;
  // The overrides shaped the fit only: the live config goes on.
  return LinearModel::FromState(live_config, 0, fitted.ExportState());
}

absl::StatusOr<uint64_t> RetrainJobs::SwapIn(
    const Started& started, LiveModel& model, LinearModel fitted,
    kafka::ModelTopic* topic,
    const std::optional<kafka::RetrainCutoff>& kafka_cutoff) {
  SwapRecord record;
  record.job_id = started.id;
  record.algorithm = started.request.algorithm();
  record.dataset_id = started.request.dataset_id();
  if (topic != nullptr) {  // the topic records the swap on every replica
    return topic->PublishRetrain(record, fitted, *kafka_cutoff);
  }
  std::promise<absl::StatusOr<uint64_t>> adopted;
  model.learner.Adopt(
      std::move(fitted),
      [&adopted, &record, &model](absl::StatusOr<uint64_t> version) {
        // On the learner thread, just after the swap's publication.
        if (version.ok()) record.state = PublishedState(model.learner);
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

}  // namespace streamfit
