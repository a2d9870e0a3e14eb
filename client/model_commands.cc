// The model-management commands: models, create, get, delete.
#include <algorithm>
#include <iostream>
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

// Prints `info` as JSON to stdout.
absl::Status PrintModel(const v1::ModelInfo& info) {
  ASSIGN_OR_RETURN(const std::string json, ToJson(info));
  std::cout << json;
  return absl::OkStatus();
}

// The model's quality so far: accuracy for classifiers, MSE for regression.
double QualityMetric(const v1::ModelInfo& info) {
  return info.config().task() == v1::TASK_REGRESSION
             ? info.metrics().progressive_mse()
             : info.metrics().progressive_accuracy();
}

absl::StatusOr<v1::ModelConfig> ConfigFromFlags() {
  v1::ModelConfig config;
  ASSIGN_OR_RETURN(const v1::Task task, ParseTask(absl::GetFlag(FLAGS_task)));
  ASSIGN_OR_RETURN(const v1::LearningRateSchedule schedule,
                   ParseSchedule(absl::GetFlag(FLAGS_schedule)));
  config.set_task(task);
  config.set_num_features(absl::GetFlag(FLAGS_features));
  config.set_num_classes(absl::GetFlag(FLAGS_classes));
  config.set_schedule(schedule);
  if (auto v = absl::GetFlag(FLAGS_learning_rate)) config.set_learning_rate(*v);
  if (auto v = absl::GetFlag(FLAGS_power_t)) config.set_power_t(*v);
  if (auto v = absl::GetFlag(FLAGS_l2)) config.set_l2(*v);
  config.set_disable_standardization(
      absl::GetFlag(FLAGS_disable_standardization));
  return config;
}

}  // namespace

absl::Status RunModels(LearnerClient& client, const Args& args) {
  if (!args.empty()) {
    return absl::InvalidArgumentError("usage: streamfit models");
  }
  ASSIGN_OR_RETURN(const std::vector<v1::ModelInfo> models,
                   client.ListModels());
  int name_width = 4;
  for (const v1::ModelInfo& info : models) {
    name_width = std::max<int>(name_width, info.name().size());
  }
  constexpr absl::string_view kRow =
      "%-*s  %-10s  %8s  %7s  %10s  %10s  %12s  %12s\n";
  std::cout << absl::StrFormat(kRow, name_width, "NAME", "TASK", "FEATURES",
                               "CLASSES", "VERSION", "SAMPLES", "LOSS",
                               "ACCURACY/MSE");
  for (const v1::ModelInfo& info : models) {
    const v1::ModelConfig& config = info.config();
    std::cout << absl::StrFormat(
        kRow, name_width, info.name(), TaskName(config.task()),
        absl::StrCat(config.num_features()),
        config.task() == v1::TASK_MULTICLASS
            ? absl::StrCat(config.num_classes())
            : "-",
        absl::StrCat(info.model_version()),
        absl::StrCat(info.metrics().samples_seen()),
        absl::StrFormat("%.6g", info.metrics().progressive_loss()),
        absl::StrFormat("%.6g", QualityMetric(info)));
  }
  return absl::OkStatus();
}

absl::Status RunCreate(LearnerClient& client, const Args& args) {
  ASSIGN_OR_RETURN(
      const std::string name,
      ModelNameArg(args,
                   "streamfit create NAME --task regression|binary|multiclass "
                   "--features N [--classes K] [--learning_rate X] [--l2 X] "
                   "[--schedule constant|invscaling]"));
  ASSIGN_OR_RETURN(const v1::ModelConfig config, ConfigFromFlags());
  ASSIGN_OR_RETURN(const v1::ModelInfo info, client.CreateModel(name, config));
  return PrintModel(info);
}

absl::Status RunGet(LearnerClient& client, const Args& args) {
  ASSIGN_OR_RETURN(const std::string name,
                   ModelNameArg(args, "streamfit get NAME"));
  ASSIGN_OR_RETURN(const v1::ModelInfo info, client.GetModel(name));
  return PrintModel(info);
}

absl::Status RunDelete(LearnerClient& client, const Args& args) {
  ASSIGN_OR_RETURN(const std::string name,
                   ModelNameArg(args, "streamfit delete NAME"));
  RETURN_IF_ERROR(client.DeleteModel(name));
  std::cout << "deleted model '" << name << "'\n";
  return absl::OkStatus();
}

}  // namespace streamfit
