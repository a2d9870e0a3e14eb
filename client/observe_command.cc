// `streamfit observe NAME --file data.csv [--batch 256]`: streams a labeled
// CSV file to a model.
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/cli_common.h"
#include "client/commands.h"
#include "core/status_macros.h"

namespace streamfit {
namespace {

std::vector<v1::Example> ToExamples(const ExampleBatch& batch) {
  std::vector<v1::Example> examples(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const std::span<const float> row = batch.row(i);
    examples[i].mutable_features()->mutable_dense()->Add(row.begin(),
                                                         row.end());
    examples[i].set_label(batch.labels[i]);
  }
  return examples;
}

// One stderr line, rewritten in place at most every 100 ms, showing the rows
// sent and the rate. Not thread-safe.
class ProgressLine {
 public:
  explicit ProgressLine(size_t total) : total_(total) {}

  void Update(uint64_t rows) {
    const absl::Time now = absl::Now();
    if (rows < total_ && now - last_draw_ < absl::Milliseconds(100)) return;
    last_draw_ = now;
    const double seconds = absl::ToDoubleSeconds(now - start_);
    std::cerr << absl::StrFormat("\r%d / %d rows, %.0f rows/s", rows, total_,
                                 seconds > 0 ? rows / seconds : 0.0)
              << std::flush;
  }

  // Ends the line.
  void Done() { std::cerr << "\n"; }

 private:
  const size_t total_;
  const absl::Time start_ = absl::Now();
  absl::Time last_draw_ = absl::InfinitePast();
};

}  // namespace

absl::Status RunObserve(LearnerClient& client, const Args& args) {
  ASSIGN_OR_RETURN(
      const std::string name,
      ModelNameArg(args, "streamfit observe NAME --file data.csv [--batch N]"));
  ASSIGN_OR_RETURN(const ExampleBatch batch, ReadFileFlag());
  ASSIGN_OR_RETURN(const size_t batch_size, BatchFlag());
  const std::vector<v1::Example> examples = ToExamples(batch);

  ProgressLine progress(examples.size());
  absl::StatusOr<v1::ObserveResponse> response =
      client.Observe(name, examples, batch_size,
                     [&progress](uint64_t sent) { progress.Update(sent); });
  progress.Done();
  RETURN_IF_ERROR(response.status());
  std::cout << absl::StrFormat(
      "observed %d examples; model '%s' is at version %d\n",
      response->accepted(), name, response->model_version());
  return absl::OkStatus();
}

}  // namespace streamfit
