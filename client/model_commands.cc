// The model-management commands: models, create, get, delete.
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "client/cli_common.h"
#include "client/cli_flags.h"
#include "client/commands.h"
#include "core/json_string.h"
#include "core/status_macros.h"
#include "google/protobuf/descriptor.h"

namespace streamfit {
namespace {

// The quality in `metrics`: accuracy for classifiers, MSE for regression.
double QualityMetric(const v1::ModelInfo& info,
                     const v1::ModelMetrics& metrics) {
  return info.config().task() == v1::TASK_REGRESSION
             ? metrics.progressive_mse()
             : metrics.progressive_accuracy();
}

// The event that made the current state, in a few words: "created",
// "retrained@120", "restored@50"; "-" when the server kept no lineage.
std::string OriginOf(const v1::ModelInfo& info) {
  if (info.lineage().empty()) return "-";
  const v1::ModelLineage& last = *info.lineage().rbegin();
  switch (last.event()) {
    case v1::LINEAGE_CREATED:
      return "created";
    case v1::LINEAGE_RETRAINED:
      return absl::StrCat("retrained@", last.model_version());
    case v1::LINEAGE_RESTORED:
      return absl::StrCat("restored@", last.model_version());
    case v1::LINEAGE_PROMOTED:
      return absl::StrCat("promoted@", last.model_version());
    default:
      return "-";
  }
}

std::string FormatUnixMillis(int64_t unix_ms) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                          absl::FromUnixMillis(unix_ms), absl::UTCTimeZone());
}

// One lineage event as a line: what happened, at which version, and when.
std::string DescribeEvent(const v1::ModelLineage& event) {
  const std::string when = FormatUnixMillis(event.unix_ms());
  switch (event.event()) {
    case v1::LINEAGE_CREATED:
      return absl::StrCat("created ", when);
    case v1::LINEAGE_RETRAINED:
      return absl::StrCat("retrained ", when, ": job ", event.job_id(), " (",
                          event.algorithm(), " on dataset ", event.dataset_id(),
                          ") swapped in at version ", event.model_version());
    case v1::LINEAGE_RESTORED:
      return absl::StrCat(
          "restored ", when, ": ",
          event.snapshot_name().empty()
              ? std::string("an uploaded snapshot")
              : absl::StrCat("saved snapshot '", event.snapshot_name(), "'"),
          event.snapshot_model().empty()
              ? ""
              : absl::StrCat(" of model '", event.snapshot_model(), "'"),
          " at version ", event.model_version(), " (the model was at ",
          event.previous_version(), ")");
    case v1::LINEAGE_PROMOTED:
      return absl::StrCat("promoted ", when, ": challenger '",
                          event.challenger(), "' serves from version ",
                          event.model_version(),
                          event.automatic() ? " (by the model's policy)" : "");
    default:
      return "unknown";
  }
}

// Samples, loss and the task's quality figure of `metrics`.
std::string DescribeMetrics(const v1::ModelInfo& info,
                            const v1::ModelMetrics& metrics) {
  return absl::StrFormat(
      "%d samples, loss %.6g, %s %.6g", metrics.samples_seen(),
      metrics.progressive_loss(),
      info.config().task() == v1::TASK_REGRESSION ? "mse" : "accuracy",
      QualityMetric(info, metrics));
}

// The short name of enum value `number` of `type` ("adam" for
// OPTIMIZER_ADAM), without `prefix`.
std::string EnumName(const google::protobuf::EnumDescriptor& type, int number,
                     absl::string_view prefix) {
  const google::protobuf::EnumValueDescriptor* value =
      type.FindValueByNumber(number);
  if (value == nullptr) return absl::StrCat(number);
  return absl::AsciiStrToLower(absl::StripPrefix(value->name(), prefix));
}

// The settings of `config` that shape learning, in one line.
std::string DescribeConfig(const v1::ModelConfig& config) {
  std::string out = absl::StrCat(
      "optimizer ",
      EnumName(*v1::Optimizer_descriptor(), config.optimizer(), "OPTIMIZER_"),
      ", loss ", EnumName(*v1::Loss_descriptor(), config.loss(), "LOSS_"),
      ", learning_rate ", config.learning_rate(), " (",
      EnumName(*v1::LearningRateSchedule_descriptor(), config.schedule(),
               "SCHEDULE_"),
      "), l1 ", config.l1(), ", l2 ", config.l2(), ", hash_bits ",
      config.hash_bits());
  if (config.optimizer() == v1::OPTIMIZER_RLS) {
    absl::StrAppend(&out, ", rls_ridge ", config.rls_ridge(),
                    ", rls_forgetting ", config.rls_forgetting());
  }
  if (!config.interactions().empty()) {
    absl::StrAppend(&out, ", interactions ",
                    absl::StrJoin(config.interactions(), ",",
                                  [](std::string* s, const auto& pair) {
                                    absl::StrAppend(s, pair.first(), ":",
                                                    pair.second());
                                  }));
  }
  absl::StrAppend(&out, ", drift ",
                  EnumName(*v1::DriftDetector_descriptor(),
                           config.drift_detector(), "DRIFT_DETECTOR_"),
                  "/",
                  EnumName(*v1::DriftPolicy_descriptor(), config.drift_policy(),
                           "DRIFT_POLICY_"));
  if (config.disable_standardization()) {
    absl::StrAppend(&out, ", no standardization");
  }
  if (config.policies().batch_gap_every() > 0) {
    absl::StrAppend(&out, ", gap every ", config.policies().batch_gap_every());
  }
  return out;
}

// One challenger as a line: its comparison with the model and its config.
std::string DescribeChallenger(const v1::Challenger& c) {
  const v1::ChallengerComparison& compared = c.comparison();
  return absl::StrFormat(
      "%s: since %d, %d samples compared, loss %.6g vs the model's %.6g; "
      "last %d: %+.6g better, confidence %.4f\n    %s",
      c.name(), c.start_version(), compared.compared_samples(),
      compared.challenger_loss(), compared.model_loss(),
      compared.window_samples(), compared.loss_difference(),
      compared.confidence(), DescribeConfig(c.config()));
}

// Prints `info` to stdout: JSON with --json, else a short summary.
absl::Status PrintModel(const v1::ModelInfo& info) {
  if (absl::GetFlag(FLAGS_json)) return PrintJson(info);
  const v1::ModelConfig& config = info.config();
  std::cout << "model:     " << info.name() << "\n";
  std::cout << "task:      " << TaskName(config.task()) << ", "
            << config.num_features() << " dense features"
            << (config.task() == v1::TASK_MULTICLASS
                    ? absl::StrCat(", ", config.num_classes(), " classes")
                    : "")
            << "\n";
  std::cout << "config:    " << DescribeConfig(config) << "\n";
  std::cout << "serves:    "
            << EnumName(*v1::ServedWeights_descriptor(), info.served_weights(),
                        "SERVED_WEIGHTS_")
            << " weights (serving "
            << EnumName(*v1::Serving_descriptor(), config.serving(), "SERVING_")
            << ")\n";
  std::cout << "state:     "
            << (info.state() == v1::MODEL_FAILED
                    ? absl::StrCat("FAILED: ", info.failure())
                    : std::string("ready"))
            << "\n";
  std::cout << "version:   " << info.model_version() << " (admitted "
            << info.freshness().admitted_version() << ")\n";
  std::cout << "since:     " << OriginOf(info) << ", "
            << DescribeMetrics(info, info.metrics_since_lineage()) << "\n";
  std::cout << "lifetime:  " << DescribeMetrics(info, info.lifetime_metrics())
            << "\n";
  if (info.has_batch_gap()) {
    std::cout << "gap:       " << DescribeBatchGap(info.batch_gap()) << "\n";
  }
  for (const v1::Challenger& c : info.challengers()) {
    std::cout << "challenger " << DescribeChallenger(c) << "\n";
  }
  std::cout << "lineage:\n";
  for (const v1::ModelLineage& event : info.lineage()) {
    std::cout << "  " << DescribeEvent(event) << "\n";
  }
  return absl::OkStatus();
}

// The value of enum `type` named by flag `flag`: "" is the server default
// (0), else the value's name without `prefix`, lower case ("adagrad" for
// OPTIMIZER_ADAGRAD). A usage error for another name.
absl::StatusOr<int> EnumFlag(absl::string_view flag, const std::string& name,
                             const google::protobuf::EnumDescriptor& type,
                             absl::string_view prefix) {
  if (name.empty()) return 0;
  std::vector<std::string> names;
  for (int i = 0; i < type.value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor& value = *type.value(i);
    if (value.number() == 0) continue;
    std::string short_name =
        absl::AsciiStrToLower(absl::StripPrefix(value.name(), prefix));
    if (short_name == name) return value.number();
    names.push_back(std::move(short_name));
  }
  return UsageError(absl::StrCat("--", flag, " must be one of ",
                                 absl::StrJoin(names, ", "), ", not '", name,
                                 "'"));
}

// The learning settings of the create flags (all but --task, --features
// and --classes), set in `config`.
absl::Status LearningConfigFromFlags(v1::ModelConfig& config);

absl::StatusOr<v1::ModelConfig> ConfigFromFlags() {
  v1::ModelConfig config;
  ASSIGN_OR_RETURN(const v1::Task task, ParseTask(absl::GetFlag(FLAGS_task)));
  config.set_task(task);
  config.set_num_features(absl::GetFlag(FLAGS_features));
  config.set_num_classes(absl::GetFlag(FLAGS_classes));
  RETURN_IF_ERROR(LearningConfigFromFlags(config));
  return config;
}

absl::Status LearningConfigFromFlags(v1::ModelConfig& config) {
  ASSIGN_OR_RETURN(const v1::LearningRateSchedule schedule,
                   ParseSchedule(absl::GetFlag(FLAGS_schedule)));
  config.set_schedule(schedule);
  if (auto v = absl::GetFlag(FLAGS_learning_rate)) config.set_learning_rate(*v);
  if (auto v = absl::GetFlag(FLAGS_power_t)) config.set_power_t(*v);
  if (auto v = absl::GetFlag(FLAGS_l2)) config.set_l2(*v);
  config.set_disable_standardization(
      absl::GetFlag(FLAGS_disable_standardization));
  ASSIGN_OR_RETURN(const int optimizer,
                   EnumFlag("optimizer", absl::GetFlag(FLAGS_optimizer),
                            *v1::Optimizer_descriptor(), "OPTIMIZER_"));
  config.set_optimizer(static_cast<v1::Optimizer>(optimizer));
  ASSIGN_OR_RETURN(const int loss, EnumFlag("loss", absl::GetFlag(FLAGS_loss),
                                            *v1::Loss_descriptor(), "LOSS_"));
  config.set_loss(static_cast<v1::Loss>(loss));
  if (auto v = absl::GetFlag(FLAGS_l1)) config.set_l1(*v);
  if (auto v = absl::GetFlag(FLAGS_ftrl_beta)) config.set_ftrl_beta(*v);
  if (auto v = absl::GetFlag(FLAGS_adam_beta1)) config.set_adam_beta1(*v);
  if (auto v = absl::GetFlag(FLAGS_adam_beta2)) config.set_adam_beta2(*v);
  if (auto v = absl::GetFlag(FLAGS_huber_delta)) config.set_huber_delta(*v);
  if (auto v = absl::GetFlag(FLAGS_quantile_tau)) config.set_quantile_tau(*v);
  if (auto v = absl::GetFlag(FLAGS_max_gradient)) config.set_max_gradient(*v);
  if (auto v = absl::GetFlag(FLAGS_rls_ridge)) config.set_rls_ridge(*v);
  if (auto v = absl::GetFlag(FLAGS_rls_forgetting)) {
    config.set_rls_forgetting(*v);
  }
  ASSIGN_OR_RETURN(
      const int drift_detector,
      EnumFlag("drift_detector", absl::GetFlag(FLAGS_drift_detector),
               *v1::DriftDetector_descriptor(), "DRIFT_DETECTOR_"));
  config.set_drift_detector(static_cast<v1::DriftDetector>(drift_detector));
  ASSIGN_OR_RETURN(const int drift_policy,
                   EnumFlag("drift_policy", absl::GetFlag(FLAGS_drift_policy),
                            *v1::DriftPolicy_descriptor(), "DRIFT_POLICY_"));
  config.set_drift_policy(static_cast<v1::DriftPolicy>(drift_policy));
  v1::ModelPolicies* policies = config.mutable_policies();
  policies->set_retrain_samples(absl::GetFlag(FLAGS_policy_retrain_samples));
  policies->set_retrain_dataset(absl::GetFlag(FLAGS_policy_retrain_dataset));
  policies->set_batch_gap_every(absl::GetFlag(FLAGS_batch_gap_every));
  policies->set_batch_gap_window(absl::GetFlag(FLAGS_batch_gap_window));
  policies->set_batch_gap_retrain_ratio(
      absl::GetFlag(FLAGS_batch_gap_retrain_ratio));
  policies->set_promote_confidence(absl::GetFlag(FLAGS_promote_confidence));
  policies->set_promote_window(absl::GetFlag(FLAGS_promote_window));
  ASSIGN_OR_RETURN(const int serving,
                   EnumFlag("serving", absl::GetFlag(FLAGS_serving),
                            *v1::Serving_descriptor(), "SERVING_"));
  config.set_serving(static_cast<v1::Serving>(serving));
  config.set_hash_bits(absl::GetFlag(FLAGS_hash_bits));
  for (const std::string& pair : absl::GetFlag(FLAGS_interactions)) {
    const std::vector<std::string> parts = absl::StrSplit(pair, ':');
    if (parts.size() != 2) {
      return UsageError(absl::StrCat(
          "--interactions takes namespace pairs a:b, not '", pair, "'"));
    }
    v1::NamespacePair* out = config.add_interactions();
    out->set_first(parts[0]);
    out->set_second(parts[1]);
  }
  for (const std::string& text : absl::GetFlag(FLAGS_class_weights)) {
    double weight;
    if (!absl::SimpleAtod(text, &weight)) {
      return UsageError(absl::StrCat(
          "--class_weights takes numbers w0,w1,..., not '", text, "'"));
    }
    config.add_class_weights(weight);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunModels(LearnerClient& client, const Args& args) {
  if (!args.empty()) {
    return UsageError("usage: streamfit models [--json]");
  }
  ASSIGN_OR_RETURN(const std::vector<v1::ModelInfo> models,
                   client.ListModels());
  if (absl::GetFlag(FLAGS_json)) {
    v1::ListModelsResponse list;
    list.mutable_models()->Add(models.begin(), models.end());
    ASSIGN_OR_RETURN(const std::string json, ToJson(list));
    std::cout << json;
    return absl::OkStatus();
  }
  int name_width = 4;
  for (const v1::ModelInfo& info : models) {
    name_width = std::max<int>(name_width, info.name().size());
  }
  // SAMPLES: over the model's life; LOSS and ACCURACY/MSE: since ORIGIN.
  constexpr absl::string_view kRow =
      "%-*s  %-10s  %8s  %7s  %10s  %10s  %12s  %12s  %s\n";
  std::cout << absl::StrFormat(kRow, name_width, "NAME", "TASK", "FEATURES",
                               "CLASSES", "VERSION", "SAMPLES", "LOSS",
                               "ACCURACY/MSE", "ORIGIN");
  for (const v1::ModelInfo& info : models) {
    const v1::ModelConfig& config = info.config();
    std::cout << absl::StrFormat(
        kRow, name_width, info.name(), TaskName(config.task()),
        absl::StrCat(config.num_features()),
        config.task() == v1::TASK_MULTICLASS
            ? absl::StrCat(config.num_classes())
            : "-",
        absl::StrCat(info.model_version()),
        absl::StrCat(info.lifetime_metrics().samples_seen()),
        absl::StrFormat("%.6g",
                        info.metrics_since_lineage().progressive_loss()),
        absl::StrFormat("%.6g",
                        QualityMetric(info, info.metrics_since_lineage())),
        OriginOf(info));
  }
  return absl::OkStatus();
}

absl::Status RunCreate(LearnerClient& client, const Args& args) {
  ASSIGN_OR_RETURN(
      const std::string name,
      ModelNameArg(args,
                   "streamfit create NAME --task regression|binary|multiclass "
                   "--features N [--classes K] [--learning_rate X] [--l1 X] "
                   "[--l2 X] [--schedule S] [--optimizer O] [--loss L] "
                   "[--hash_bits B] [--interactions a:b,...] (see --help)"));
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
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << "{\"deleted\": " << JsonString(name) << "}\n";
  } else {
    std::cout << "deleted model '" << name << "'\n";
  }
  return absl::OkStatus();
}

absl::Status RunChallenger(LearnerClient& client, const Args& args) {
  constexpr absl::string_view kUsage =
      "usage: streamfit challenger MODEL [add NAME [--from_version V] "
      "[--optimizer O] [--learning_rate X] ... | promote NAME | rm NAME]";
  if (args.empty() || args.size() == 2 || args.size() > 3) {
    return UsageError(kUsage);
  }
  const std::string& model = args[0];
  if (args.size() == 1) {
    ASSIGN_OR_RETURN(const v1::ListChallengersResponse listed,
                     client.ListChallengers(model));
    if (absl::GetFlag(FLAGS_json)) return PrintJson(listed);
    for (const v1::Challenger& c : listed.challengers()) {
      std::cout << DescribeChallenger(c) << "\n";
    }
    for (const v1::DroppedChallenger& d : listed.dropped()) {
      std::cout << d.name() << ": dropped at version " << d.model_version()
                << ": " << d.reason() << "\n";
    }
    return absl::OkStatus();
  }
  const std::string& action = args[1];
  const std::string& name = args[2];
  if (action == "add") {
    ASSIGN_OR_RETURN(const v1::ModelInfo info, client.GetModel(model));
    v1::AddChallengerRequest request;
    request.set_model(model);
    request.set_name(name);
    v1::ModelConfig* config = request.mutable_config();
    config->set_task(info.config().task());
    config->set_num_features(info.config().num_features());
    config->set_num_classes(info.config().num_classes());
    RETURN_IF_ERROR(LearningConfigFromFlags(*config));
    if (const int64_t from = absl::GetFlag(FLAGS_from_version); from >= 0) {
      request.set_from_version(from);
    }
    ASSIGN_OR_RETURN(const v1::Challenger added, client.AddChallenger(request));
    if (absl::GetFlag(FLAGS_json)) return PrintJson(added);
    std::cout << DescribeChallenger(added) << "\n";
    return absl::OkStatus();
  }
  if (action == "promote") {
    ASSIGN_OR_RETURN(const v1::ModelInfo info,
                     client.PromoteChallenger(model, name));
    return PrintModel(info);
  }
  if (action == "rm") {
    RETURN_IF_ERROR(client.RemoveChallenger(model, name));
    if (absl::GetFlag(FLAGS_json)) {
      std::cout << "{\"removed\": " << JsonString(name) << "}\n";
    }
    return absl::OkStatus();
  }
  return UsageError(kUsage);
}

}  // namespace streamfit
