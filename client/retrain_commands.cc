// `streamfit retrain MODEL --dataset ID ...` and `streamfit jobs`.
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli_common.h"
#include "client/cli_flags.h"
#include "client/commands.h"
#include "client/retrain_flags.h"
#include "core/status_macros.h"

namespace streamfit {
namespace {

absl::StatusOr<v1::SwapPolicy> SwapFlag() {
  const std::string s = absl::GetFlag(FLAGS_swap);
  if (s == "always") return v1::SWAP_ALWAYS;
  if (s == "if_better") return v1::SWAP_IF_BETTER;
  if (s == "never") return v1::SWAP_NEVER;
  return UsageError(
      absl::StrCat("--swap must be always, if_better or never, not '", s, "'"));
}

std::string StateName(v1::RetrainState state) {
  std::string name = v1::RetrainState_Name(state);
  return name.substr(name.find('_') + 1);  // RETRAIN_RUNNING -> RUNNING
}

// One line: "job-...  RUNNING  fitting 12/500 objective 0.123".
std::string ProgressText(const v1::RetrainJob& job) {
  const v1::RetrainProgress& p = job.progress();
  std::string text = absl::StrFormat("%s %-9s %-10s", job.id(),
                                     StateName(job.state()), p.phase());
  if (p.max_steps() > 0) {
    const int width = 20;
    const int filled = std::min<int>(
        width, width * static_cast<double>(p.step()) / p.max_steps());
    absl::StrAppendFormat(&text, " [%s%s] %d/%d objective %.6g",
                          std::string(filled, '#'),
                          std::string(width - filled, '.'), p.step(),
                          p.max_steps(), p.objective());
  }
  return text;
}

std::string Summary(const v1::RetrainJob& job) {
  std::string s =
      absl::StrFormat("job %s %s (%s, model '%s', dataset %s)\n", job.id(),
                      StateName(job.state()), job.request().algorithm(),
                      job.request().model(), job.request().dataset_id());
  if (job.state() == v1::RETRAIN_PENDING ||
      job.state() == v1::RETRAIN_RUNNING) {
    absl::StrAppend(&s, ProgressText(job), "\n");
  }
  const v1::RetrainMetrics& m = job.metrics();
  if (m.holdout_rows() > 0) {
    absl::StrAppendFormat(&s, "holdout loss on %d rows: new %.6g, live %.6g\n",
                          m.holdout_rows(), m.new_holdout_loss(),
                          m.live_holdout_loss());
  }
  if (job.state() == v1::RETRAIN_SUCCEEDED) {
    absl::StrAppendFormat(&s, "fit %d rows in %.3f s; ", m.train_rows(),
                          m.fit_seconds());
    if (job.swapped()) {
      absl::StrAppendFormat(&s,
                            "swapped in at version %d (%d samples replayed)\n",
                            job.swap_version(), job.replayed_samples());
    } else {
      absl::StrAppend(&s, "not swapped (swap policy)\n");
    }
  }
  if (!job.error().empty()) absl::StrAppend(&s, "error: ", job.error(), "\n");
  return s;
}

}  // namespace

absl::Status RunRetrain(LearnerClient& client, const Args& args) {
  ASSIGN_OR_RETURN(
      const std::string model,
      ModelNameArg(args,
                   "streamfit retrain MODEL --dataset ID|--recent_samples N "
                   "[--algorithm A] "
                   "[--epochs N] [--holdout F] [--swap always|if_better|never] "
                   "[--wait]"));
  v1::RetrainRequest request;
  request.set_model(model);
  request.set_dataset_id(absl::GetFlag(FLAGS_dataset));
  request.set_recent_samples(absl::GetFlag(FLAGS_recent_samples));
  if (request.dataset_id().empty() == (request.recent_samples() == 0)) {
    return UsageError("give --dataset or --recent_samples");
  }
  request.set_algorithm(absl::GetFlag(FLAGS_algorithm));
  request.set_epochs(absl::GetFlag(FLAGS_epochs));
  request.set_max_iterations(absl::GetFlag(FLAGS_max_iterations));
  request.set_holdout_fraction(absl::GetFlag(FLAGS_holdout));
  ASSIGN_OR_RETURN(const v1::SwapPolicy swap, SwapFlag());
  request.set_swap_policy(swap);
  request.set_warm_start(absl::GetFlag(FLAGS_warm_start));
  request.set_seed(absl::GetFlag(FLAGS_seed));
  if (auto l2 = absl::GetFlag(FLAGS_l2)) request.set_l2(*l2);
  if (auto eta = absl::GetFlag(FLAGS_learning_rate)) {
    request.set_learning_rate(*eta);
  }
  const bool json = absl::GetFlag(FLAGS_json);
  ASSIGN_OR_RETURN(v1::RetrainJob job, client.Retrain(request));
  if (!absl::GetFlag(FLAGS_wait)) {
    if (json) return PrintJson(job);
    std::cout << job.id() << "\n";
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(
      job,
      client.WatchRetrainJob(job.id(), [json](const v1::RetrainJob& update) {
        if (json) return;
        std::cerr << "\r" << ProgressText(update) << "\033[K" << std::flush;
      }));
  if (json) {
    RETURN_IF_ERROR(PrintJson(job));
  } else {
    std::cerr << "\n";
    std::cout << Summary(job);
  }
  if (job.state() != v1::RETRAIN_SUCCEEDED) {
    return absl::AbortedError(absl::StrCat("job ", job.id(), " ended ",
                                           StateName(job.state()), ": ",
                                           job.error()));
  }
  return absl::OkStatus();
}

absl::Status RunJobs(LearnerClient& client, const Args& args) {
  if (args.size() == 2 && args[0] == "cancel") {
    ASSIGN_OR_RETURN(const v1::RetrainJob job,
                     client.CancelRetrainJob(args[1]));
    if (absl::GetFlag(FLAGS_json)) return PrintJson(job);
    std::cout << Summary(job);
    return absl::OkStatus();
  }
  if (args.size() == 1) {
    ASSIGN_OR_RETURN(const v1::RetrainJob job, client.GetRetrainJob(args[0]));
    if (absl::GetFlag(FLAGS_json)) return PrintJson(job);
    std::cout << Summary(job);
    return absl::OkStatus();
  }
  if (!args.empty()) {
    return UsageError("usage: streamfit jobs [ID | cancel ID] [--json]");
  }
  ASSIGN_OR_RETURN(const std::vector<v1::RetrainJob> jobs,
                   client.ListRetrainJobs());
  if (absl::GetFlag(FLAGS_json)) {
    v1::ListRetrainJobsResponse list;
    list.mutable_jobs()->Add(jobs.begin(), jobs.end());
    return PrintJson(list);
  }
  std::cout << absl::StrFormat("%-24s %-10s %-14s %-16s %-20s %s\n", "ID",
                               "STATE", "ALGORITHM", "MODEL", "DATASET",
                               "SWAPPED");
  for (const v1::RetrainJob& job : jobs) {
    std::cout << absl::StrFormat(
        "%-24s %-10s %-14s %-16s %-20s %s\n", job.id(), StateName(job.state()),
        job.request().algorithm(), job.request().model(),
        job.request().dataset_id(),
        job.swapped() ? absl::StrCat("at ", job.swap_version()) : "no");
  }
  return absl::OkStatus();
}

}  // namespace streamfit
