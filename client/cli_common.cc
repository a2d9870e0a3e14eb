#include "client/cli_common.h"

#include <iostream>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli_flags.h"
#include "client/retrain_flags.h"
#include "core/data/csv_reader.h"
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
  if (path.empty()) return UsageError("--file is required");
  return ReadCsvFile(path);
}

absl::StatusOr<size_t> BatchFlag() {
  const uint32_t batch = absl::GetFlag(FLAGS_batch);
  if (batch == 0) return UsageError("--batch must be >= 1");
  return batch;
}

absl::StatusOr<CsvInput> OpenCsvFlags(bool labeled) {
  const std::string path = absl::GetFlag(FLAGS_file);
  if (path.empty()) return UsageError("--file is required (- for stdin)");
  const std::string flag = absl::GetFlag(FLAGS_delimiter);
  const bool tab = flag == "tab" || flag == "\\t";
  if (!tab && (flag.size() != 1 || flag[0] == '"' || flag[0] == '\n' ||
               flag[0] == '\r')) {
    return UsageError(absl::StrCat(
        "--delimiter must be one character other than a quote or line "
        "break (or 'tab'), not '",
        flag, "'"));
  }
  CsvRowOptions options;
  options.delimiter = tab ? '\t' : flag[0];
  options.header = absl::GetFlag(FLAGS_header);
  options.label_column = absl::GetFlag(FLAGS_label_column);
  if (!options.label_column.empty() && !options.header) {
    return UsageError("--label_column needs --header");
  }
  options.labeled = labeled;
  std::unique_ptr<std::ifstream> file;
  if (path != "-") {
    file = std::make_unique<std::ifstream>(path, std::ios::binary);
    if (!*file) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  }
  std::istream& in = file ? static_cast<std::istream&>(*file) : std::cin;
  absl::StatusOr<CsvRowReader> rows = CsvRowReader::Create(in, options);
  if (!rows.ok()) return rows.status();
  return CsvInput{std::move(file), *std::move(rows)};
}

absl::Status CheckWidth(const v1::ModelInfo& info, const CsvRows& rows) {
  if (rows.size() == 0 || rows.width == info.config().num_features()) {
    return absl::OkStatus();
  }
  if (info.config().num_features() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model '", info.name(),
        "' takes no dense features (only sparse and named ones, which CSV "
        "cannot carry: send them through the API); nothing was sent"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("line ", rows.first_line, ": ", rows.width,
                   " features, but model '", info.name(), "' takes ",
                   info.config().num_features(), "; nothing was sent"));
}

absl::Status WithCurrentVersion(LearnerClient& client, const std::string& name,
                                uint64_t min_version, absl::Status status) {
  if (!absl::IsDeadlineExceeded(status) || min_version == 0) return status;
  absl::StatusOr<v1::ModelInfo> info = client.GetModel(name);
  if (!info.ok()) return status;
  return absl::DeadlineExceededError(absl::StrCat(
      "model '", name, "' did not reach version ", min_version,
      " within --timeout; it is at version ", info->model_version(),
      " (samples accepted: ", info->freshness().admitted_version(), ")"));
}

absl::Status PrintJson(const google::protobuf::Message& message) {
  absl::StatusOr<std::string> json = ToJson(message);
  if (!json.ok()) return json.status();
  std::cout << *json;
  return absl::OkStatus();
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
  return UsageError(absl::StrCat(
      "--task must be regression, binary or multiclass, not '", name, "'"));
}

absl::StatusOr<v1::LearningRateSchedule> ParseSchedule(absl::string_view name) {
  if (name.empty()) return v1::SCHEDULE_UNSPECIFIED;
  if (name == "constant") return v1::SCHEDULE_CONSTANT;
  if (name == "invscaling") return v1::SCHEDULE_INVSCALING;
  return UsageError(absl::StrCat(
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

std::string DescribeBatchGap(const v1::BatchGap& gap) {
  return absl::StrFormat(
      "samples %d..%d: online loss %.6g, batch optimum (%s) %.6g, gap %.6g "
      "(%.3fx), measured in %.2f s",
      gap.from_version() + 1, gap.to_version(), gap.online_loss(),
      gap.algorithm(), gap.batch_loss(), gap.gap(), gap.ratio(), gap.seconds());
}

}  // namespace streamfit
