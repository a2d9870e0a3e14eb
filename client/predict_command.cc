// `streamfit predict NAME --file data.csv [--has_label=true]`: prints one
// prediction per CSV row and, for labeled rows, the accuracy or MSE.
#include <algorithm>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli_common.h"
#include "client/cli_flags.h"
#include "client/commands.h"
#include "core/status_macros.h"

namespace streamfit {
namespace {

// The model inputs in `batch`. Without a label column, the column that the
// CSV reader took as the label is the first feature.
std::vector<v1::Features> ToFeatures(const ExampleBatch& batch,
                                     bool has_label) {
  std::vector<v1::Features> inputs(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    auto* dense = inputs[i].mutable_dense();
    if (!has_label) dense->Add(static_cast<float>(batch.labels[i]));
    const std::span<const float> row = batch.row(i);
    dense->Add(row.begin(), row.end());
  }
  return inputs;
}

// "accuracy 0.96 on 569 rows" for classifiers (binary: P >= 0.5 means 1),
// "mse 2900 on 442 rows" for regression.
std::string Score(v1::Task task, std::span<const double> labels,
                  std::span<const double> predictions) {
  double total = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    switch (task) {
      case v1::TASK_REGRESSION:
        total += (predictions[i] - labels[i]) * (predictions[i] - labels[i]);
        break;
      case v1::TASK_BINARY:
        total += (predictions[i] >= 0.5) == (labels[i] == 1);
        break;
      default:
        total += predictions[i] == labels[i];
    }
  }
  const size_t n = labels.size();
  return absl::StrFormat("%s %.6g on %d rows",
                         task == v1::TASK_REGRESSION ? "mse" : "accuracy",
                         n > 0 ? total / n : 0.0, n);
}

}  // namespace

absl::Status RunPredict(LearnerClient& client, const Args& args) {
  ASSIGN_OR_RETURN(
      const std::string name,
      ModelNameArg(args,
                   "streamfit predict NAME --file data.csv "
                   "[--has_label=true] [--min_version V] [--batch N]"));
  ASSIGN_OR_RETURN(const ExampleBatch batch, ReadFileFlag());
  ASSIGN_OR_RETURN(const size_t batch_size, BatchFlag());
  const bool has_label = absl::GetFlag(FLAGS_has_label);
  const std::vector<v1::Features> inputs = ToFeatures(batch, has_label);

  // Requests of at most batch_size rows keep messages under gRPC's limit.
  std::vector<double> predictions;
  predictions.reserve(inputs.size());
  uint64_t first_version = 0;
  uint64_t last_version = 0;
  for (size_t begin = 0; begin < inputs.size(); begin += batch_size) {
    const size_t end = std::min(inputs.size(), begin + batch_size);
    v1::PredictRequest request;
    request.set_model(name);
    request.set_min_version(absl::GetFlag(FLAGS_min_version));
    request.mutable_features()->Add(inputs.begin() + begin,
                                    inputs.begin() + end);
    ASSIGN_OR_RETURN(const v1::PredictResponse response,
                     client.Predict(request));
    if (response.predictions_size() != static_cast<int>(end - begin)) {
      return absl::InternalError(
          absl::StrCat("server returned ", response.predictions_size(),
                       " predictions for ", end - begin, " inputs"));
    }
    if (begin == 0) first_version = response.model_version();
    last_version = response.model_version();
    for (const v1::Prediction& prediction : response.predictions()) {
      std::cout << prediction.value() << "\n";
      predictions.push_back(prediction.value());
    }
  }
  std::cout << std::flush;

  if (has_label) {
    // The task decides how predictions compare with labels.
    ASSIGN_OR_RETURN(const v1::ModelInfo info, client.GetModel(name));
    std::string versions = absl::StrCat(first_version);
    if (last_version != first_version) {
      absl::StrAppend(&versions, " to ", last_version);
    }
    std::cerr << Score(info.config().task(), batch.labels, predictions)
              << " (model version " << versions << ")\n";
  }
  return absl::OkStatus();
}

}  // namespace streamfit
