// `streamfit predict NAME --file data.csv|- [--has_label=true]`: prints one
// prediction per CSV row as it is answered (reading --batch rows at a time)
// and, for labeled rows, the accuracy or MSE on stderr.
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/cli_common.h"
#include "client/cli_flags.h"
#include "client/commands.h"
#include "client/csv_records.h"
#include "core/status_macros.h"

namespace streamfit {
namespace {

// Accuracy (binary: P >= 0.5 means 1) or squared error, summed row by row.
class RunningScore {
 public:
  explicit RunningScore(v1::Task task) : task_(task) {}
  void Add(double label, double prediction) {
    ++rows_;
    switch (task_) {
      case v1::TASK_REGRESSION:
        total_ += (prediction - label) * (prediction - label);
        break;
      case v1::TASK_BINARY:
        total_ += (prediction >= 0.5) == (label == 1);
        break;
      default:
        total_ += prediction == label;
    }
  }
  // "accuracy 0.96 on 569 rows" or "mse 2900 on 442 rows".
  std::string Text() const {
    return absl::StrFormat("%s %.6g on %d rows",
                           task_ == v1::TASK_REGRESSION ? "mse" : "accuracy",
                           rows_ > 0 ? total_ / rows_ : 0.0, rows_);
  }

 private:
  const v1::Task task_;
  double total_ = 0;
  size_t rows_ = 0;
};

}  // namespace

absl::Status RunPredict(LearnerClient& client, const Args& args) {
  ASSIGN_OR_RETURN(
      const std::string name,
      ModelNameArg(args,
                   "streamfit predict NAME --file data.csv|- "
                   "[--has_label=true] [--min_version V | --at_version V] "
                   "[--batch N] "
                   "[--header [--label_column C]] [--delimiter D] [--json]"));
  ASSIGN_OR_RETURN(const size_t batch_size, BatchFlag());
  const bool has_label = absl::GetFlag(FLAGS_has_label);
  const bool json = absl::GetFlag(FLAGS_json);
  ASSIGN_OR_RETURN(CsvInput input, OpenCsvFlags(has_label));
  // The model must exist and take rows this wide before anything is sent;
  // its task decides how predictions compare with labels.
  ASSIGN_OR_RETURN(const v1::ModelInfo info, client.GetModel(name));
  RunningScore score(info.config().task());
  const uint64_t min_version = absl::GetFlag(FLAGS_min_version);
  const int64_t at_version = absl::GetFlag(FLAGS_at_version);

  uint64_t first_version = 0;
  uint64_t last_version = 0;
  for (size_t sent = 0;;) {
    ASSIGN_OR_RETURN(const CsvRows rows, input.rows.NextRows(batch_size));
    if (rows.size() == 0) break;
    if (sent == 0) RETURN_IF_ERROR(CheckWidth(info, rows));
    v1::PredictRequest request;
    request.set_model(name);
    request.set_min_version(min_version);
    if (at_version >= 0) request.set_at_version(at_version);
    request.mutable_dense_batch()->set_num_features(rows.width);
    request.mutable_dense_batch()->mutable_values()->Add(rows.values.begin(),
                                                         rows.values.end());
    absl::StatusOr<v1::PredictResponse> response = client.Predict(request);
    if (!response.ok()) {
      return WithCurrentVersion(client, name, min_version, response.status());
    }
    if (response->predictions_size() != static_cast<int>(rows.size())) {
      return absl::InternalError(
          absl::StrCat("server returned ", response->predictions_size(),
                       " predictions for ", rows.size(), " inputs"));
    }
    if (sent == 0) first_version = response->model_version();
    last_version = response->model_version();
    for (int i = 0; i < response->predictions_size(); ++i) {
      const v1::Prediction& p = response->predictions(i);
      if (json) {
        std::cout << absl::StrFormat(
            "{\"value\": %.17g, \"scores\": [%s], \"model_version\": %d}\n",
            p.value(),
            absl::StrJoin(p.scores(), ", ",
                          [](std::string* out, double v) {
                            absl::StrAppendFormat(out, "%.17g", v);
                          }),
            response->model_version());
      } else {
        std::cout << p.value() << "\n";
      }
      if (has_label) score.Add(rows.labels[i], p.value());
    }
    sent += rows.size();
  }
  std::cout << std::flush;

  if (has_label) {
    std::string versions = absl::StrCat(first_version);
    if (last_version != first_version) {
      absl::StrAppend(&versions, " to ", last_version);
    }
    std::cerr << score.Text() << " (model version " << versions << ")\n";
  }
  return absl::OkStatus();
}

}  // namespace streamfit
