// `streamfit observe NAME --file data.csv|-`: streams a labeled CSV file (or
// stdin) to a model over ObserveStream, reading --batch rows at a time.
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
#include "client/csv_records.h"
#include "core/json_string.h"
#include "core/status_macros.h"

namespace streamfit {
namespace {

// Requests sent before the first ack is awaited.
constexpr size_t kMaxInFlight = 8;

// One stderr line, rewritten in place at most every 100 ms, showing the rows
// the server acked and the rate. Not thread-safe.
class ProgressLine {
 public:
  void Update(uint64_t rows, bool force = false) {
    const absl::Time now = absl::Now();
    if (!force && now - last_draw_ < absl::Milliseconds(100)) return;
    last_draw_ = now;
    const double seconds = absl::ToDoubleSeconds(now - start_);
    std::cerr << absl::StrFormat("\r%d rows accepted, %.0f rows/s", rows,
                                 seconds > 0 ? rows / seconds : 0.0)
              << std::flush;
    drawn_ = true;
  }
  // Ends the line, if one was drawn.
  void Done() {
    if (drawn_) std::cerr << "\n";
  }

 private:
  const absl::Time start_ = absl::Now();
  absl::Time last_draw_ = absl::InfinitePast();
  bool drawn_ = false;
};

}  // namespace

absl::Status RunObserve(LearnerClient& client, const Args& args) {
  ASSIGN_OR_RETURN(
      const std::string name,
      ModelNameArg(args,
                   "streamfit observe NAME --file data.csv|- [--batch N] "
                   "[--header [--label_column C]] [--delimiter D]"));
  ASSIGN_OR_RETURN(const size_t batch_size, BatchFlag());
  ASSIGN_OR_RETURN(CsvInput input, OpenCsvFlags(/*labeled=*/true));
  // The model must exist and take rows this wide before anything is sent.
  ASSIGN_OR_RETURN(const v1::ModelInfo info, client.GetModel(name));
  ASSIGN_OR_RETURN(CsvRows first, input.rows.NextRows(batch_size));
  RETURN_IF_ERROR(CheckWidth(info, first));

  const bool json = absl::GetFlag(FLAGS_json);
  ProgressLine progress;
  bool first_sent = false;
  LearnerClient::StreamResult result = client.ObserveStream(
      name,
      [&](v1::DenseBatch& batch) -> absl::StatusOr<bool> {
        CsvRows rows;
        if (!first_sent) {
          rows = std::move(first);
          first_sent = true;
        } else {
          ASSIGN_OR_RETURN(rows, input.rows.NextRows(batch_size));
        }
        if (rows.size() == 0) return false;
        batch.set_num_features(rows.width);
        batch.mutable_values()->Add(rows.values.begin(), rows.values.end());
        batch.mutable_labels()->Add(rows.labels.begin(), rows.labels.end());
        return true;
      },
      kMaxInFlight,
      [&](uint64_t acked, const v1::ObserveAck&) {
        if (!json) progress.Update(acked);
      });
  if (!json && result.acked > 0) progress.Update(result.acked, true);
  progress.Done();
  if (!result.status.ok()) {
    return absl::Status(
        result.status.code(),
        result.acked == 0
            ? absl::StrCat(result.status.message(), " (nothing was accepted)")
            : absl::StrFormat("%s (%d examples accepted before it; model "
                              "'%s' at version %d)",
                              result.status.message(), result.acked, name,
                              result.model_version));
  }
  if (result.acked == 0) {  // empty input: nothing sent
    ASSIGN_OR_RETURN(const v1::ModelInfo now, client.GetModel(name));
    result.model_version = now.model_version();
  }
  if (json) {
    std::cout << absl::StrFormat(
        "{\"model\": %s, \"accepted\": %d, \"model_version\": %d}\n",
        JsonString(name), result.acked, result.model_version);
  } else {
    std::cout << absl::StrFormat(
        "observed %d examples; model '%s' is at version %d\n", result.acked,
        name, result.model_version);
  }
  return absl::OkStatus();
}

}  // namespace streamfit
