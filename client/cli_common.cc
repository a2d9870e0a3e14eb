#include "client/cli_common.h"

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/cli_flags.h"
#include "core/csv_reader.h"
#include "google/protobuf/util/json_util.h"

namespace streamfit {
namespace {
constexpr absl::string_view kUsagePayload = "type.streamfit/usage_error";
}  // namespace

absl::Status UsageError(absl::string_view message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kUsagePayload, absl::Cord("1"));
  return status;
}

bool IsUsageError(const absl::Status& status) {
  return status.GetPayload(kUsagePayload).has_value();
}

absl::StatusOr<std::string> ModelNameArg(const Args& args,
                                         absl::string_view usage) {
  if (args.size() != 1 || args[0].empty()) {
    return UsageError(absl::StrCat("usage: ", usage));
  }
  return args[0];
}

absl::StatusOr<ExampleBatch> ReadFileFlag() {
  const std::string path = absl::GetFlag(FLAGS_file);
  if (path.empty()) return absl::InvalidArgumentError("--file is required");
  return ReadCsvFile(path);
}

absl::StatusOr<size_t> BatchFlag() {
  const uint32_t batch = absl::GetFlag(FLAGS_batch);
  if (batch == 0) return absl::InvalidArgumentError("--batch must be >= 1");
  return batch;
}

std::string TaskName(v1::Task task) {
  switch (task) {
    case v1::TASK_REGRESSION:
      return "regression";
    case v1::TASK_BINARY:
      return "binary";
    case v1::TASK_MULTICLASS:
      return "multiclass";
    default:
      return "unspecified";
  }
}

absl::StatusOr<v1::Task> ParseTask(absl::string_view name) {
  for (v1::Task task :
       {v1::TASK_REGRESSION, v1::TASK_BINARY, v1::TASK_MULTICLASS}) {
    if (name == TaskName(task)) return task;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--task must be regression, binary or multiclass, not '", name, "'"));
}

absl::StatusOr<v1::LearningRateSchedule> ParseSchedule(absl::string_view name) {
  if (name.empty()) return v1::SCHEDULE_UNSPECIFIED;
  if (name == "constant") return v1::SCHEDULE_CONSTANT;
  if (name == "invscaling") return v1::SCHEDULE_INVSCALING;
  return absl::InvalidArgumentError(absl::StrCat(
      "--schedule must be constant or invscaling, not '", name, "'"));
}

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  google::protobuf::util::Status status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot convert to JSON: ", status.ToString()));
  }
  if (json.empty() || json.back() != '\n') json += '\n';
  return json;
}

}  // namespace streamfit
