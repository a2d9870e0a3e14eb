// `streamfit dataset upload FILE | ls | rm ID`.
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/cli_common.h"
#include "client/cli_flags.h"
#include "client/commands.h"
#include "client/retrain_flags.h"
#include "core/json_string.h"
#include "core/status_macros.h"

namespace streamfit {
namespace {

constexpr char kUsage[] =
    "streamfit dataset upload FILE [--format csv|libsvm|examples] | "
    "dataset ls | dataset rm ID";

absl::StatusOr<v1::DatasetFormat> FormatFlag() {
  const std::string f = absl::GetFlag(FLAGS_format);
  if (f == "csv") return v1::DATASET_FORMAT_CSV;
  if (f == "libsvm" || f == "svmlight") return v1::DATASET_FORMAT_LIBSVM;
  if (f == "examples") return v1::DATASET_FORMAT_EXAMPLES;
  return UsageError(
      absl::StrCat("--format must be csv, libsvm or examples, not '", f, "'"));
}

std::string FormatName(v1::DatasetFormat f) {
  switch (f) {
    case v1::DATASET_FORMAT_LIBSVM:
      return "libsvm";
    case v1::DATASET_FORMAT_EXAMPLES:
      return "examples";
    default:
      return "csv";
  }
}

absl::Status Upload(LearnerClient& client, const std::string& path) {
  v1::UploadDatasetRequest spec;
  ASSIGN_OR_RETURN(const v1::DatasetFormat format, FormatFlag());
  spec.set_format(format);
  spec.set_has_header(absl::GetFlag(FLAGS_header));
  spec.set_label_column(absl::GetFlag(FLAGS_label_column));
  spec.set_num_features(absl::GetFlag(FLAGS_libsvm_features));
  spec.set_skip_bad_rows(absl::GetFlag(FLAGS_skip_bad_rows));
  spec.set_name(absl::GetFlag(FLAGS_dataset_name));
  const size_t chunk = std::max<uint32_t>(absl::GetFlag(FLAGS_chunk_kib), 1)
                       << 10;
  const absl::Time start = absl::Now();
  absl::Time last = absl::InfinitePast();
  auto progress = [&](uint64_t sent) {
    const absl::Time now = absl::Now();
    if (now - last < absl::Milliseconds(100)) return;
    last = now;
    const double s = absl::ToDoubleSeconds(now - start);
    std::cerr << absl::StrFormat("\r%.1f MiB sent, %.1f MiB/s",
                                 sent / 1048576.0,
                                 s > 0 ? sent / 1048576.0 / s : 0.0)
              << std::flush;
  };
  absl::StatusOr<v1::DatasetInfo> info =
      client.UploadDataset(path, spec, chunk, progress);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (last != absl::InfinitePast()) std::cerr << "\n";
  RETURN_IF_ERROR(info.status());
  if (absl::GetFlag(FLAGS_json)) return PrintJson(*info);
  std::cerr << absl::StrFormat(
      "uploaded %d bytes in %.2f s (%.1f MiB/s): %d rows x %d features, "
      "%d skipped, sha256 %s\n",
      info->bytes(), seconds,
      seconds > 0 ? info->bytes() / 1048576.0 / seconds : 0.0, info->rows(),
      info->num_features(), info->skipped_rows(), info->sha256());
  for (const std::string& reason : info->skipped_reasons()) {
    std::cerr << "  skipped " << reason << "\n";
  }
  std::cout << info->id() << "\n";  // the last stdout line: the id
  return absl::OkStatus();
}

absl::Status List(LearnerClient& client) {
  ASSIGN_OR_RETURN(const std::vector<v1::DatasetInfo> datasets,
                   client.ListDatasets());
  if (absl::GetFlag(FLAGS_json)) {
    v1::ListDatasetsResponse list;
    list.mutable_datasets()->Add(datasets.begin(), datasets.end());
    return PrintJson(list);
  }
  std::cout << absl::StrFormat("%-20s %-8s %10s %8s %12s  %s\n", "ID", "FORMAT",
                               "ROWS", "FEATURES", "BYTES", "NAME");
  for (const v1::DatasetInfo& d : datasets) {
    std::cout << absl::StrFormat("%-20s %-8s %10d %8d %12d  %s\n", d.id(),
                                 FormatName(d.format()), d.rows(),
                                 d.num_features(), d.bytes(), d.name());
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunDataset(LearnerClient& client, const Args& args) {
  if (args.size() == 2 && args[0] == "upload") return Upload(client, args[1]);
  if (args.size() == 1 && args[0] == "ls") return List(client);
  if (args.size() == 2 && args[0] == "rm") {
    RETURN_IF_ERROR(client.DeleteDataset(args[1]));
    if (absl::GetFlag(FLAGS_json)) {
      std::cout << "{\"deleted\": " << JsonString(args[1]) << "}\n";
    } else {
      std::cout << "deleted " << args[1] << "\n";
    }
    return absl::OkStatus();
  }
  return UsageError(absl::StrCat("usage: ", kUsage));
}

}  // namespace streamfit
