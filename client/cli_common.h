// Helpers shared by the `streamfit` subcommands: argument and flag checks,
// task and schedule names, and JSON output of API messages. Stateless
// functions.
#ifndef STREAMFIT_CLIENT_CLI_COMMON_H_
#define STREAMFIT_CLIENT_CLI_COMMON_H_

#include <fstream>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/commands.h"
#include "client/csv_records.h"
#include "core/model/example_batch.h"
#include "google/protobuf/message.h"
#include "streamfit/v1/streamfit.pb.h"

namespace streamfit {

// An INVALID_ARGUMENT marked as a usage error: the tool exits 2 for it
// rather than 1.
absl::Status UsageError(absl::string_view message);
bool IsUsageError(const absl::Status& status);

// The single positional argument, a model name; INVALID_ARGUMENT naming
// `usage` ("streamfit get NAME") otherwise.
absl::StatusOr<std::string> ModelNameArg(const Args& args,
                                         absl::string_view usage);

// The examples in the CSV file named by --file (label first, see
// core/data/csv_reader.h); a usage error if --file is empty.
absl::StatusOr<ExampleBatch> ReadFileFlag();
// --batch; a usage error if it is 0.
absl::StatusOr<size_t> BatchFlag();

// CSV rows from --file (a path, or - for stdin) parsed per --delimiter,
// --header and --label_column; `labeled`: a column holds the label.
struct CsvInput {
  std::unique_ptr<std::ifstream> file;  // null for stdin
  CsvRowReader rows;
};
// Usage error without --file or with a bad --delimiter; NOT_FOUND if the
// file cannot be opened.
absl::StatusOr<CsvInput> OpenCsvFlags(bool labeled);

// INVALID_ARGUMENT (before anything is sent) if `rows` are not as wide as
// the model's dense input.
absl::Status CheckWidth(const v1::ModelInfo& info, const CsvRows& rows);

// A DEADLINE_EXCEEDED `status` of a call that waited for `min_version` of
// model `name`, with the version the model has now; other statuses as given.
absl::Status WithCurrentVersion(LearnerClient& client, const std::string& name,
                                uint64_t min_version, absl::Status status);

// Prints `message` as JSON (ToJson) to stdout.
absl::Status PrintJson(const google::protobuf::Message& message);

// One line: the window, both losses, the gap and how long it took.
std::string DescribeBatchGap(const v1::BatchGap& gap);

// "regression", "binary", "multiclass"; "unspecified" for anything else.
std::string TaskName(v1::Task task);
// The inverse of TaskName; a usage error for an unknown name.
absl::StatusOr<v1::Task> ParseTask(absl::string_view name);
// "" (the server default), "constant" or "invscaling"; else a usage error.
absl::StatusOr<v1::LearningRateSchedule> ParseSchedule(absl::string_view name);

// `message` as pretty-printed JSON with proto field names and every field,
// ending in a newline.
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message);

}  // namespace streamfit

#endif  // STREAMFIT_CLIENT_CLI_COMMON_H_
