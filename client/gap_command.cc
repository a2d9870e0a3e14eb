// `streamfit gap MODEL [--window N] [--fit A] [--json]`: how far the online
// model is from the batch optimum on its most recent samples
// (MeasureBatchGap).
#include <iostream>

#include "absl/flags/flag.h"
#include "client/cli_common.h"
#include "client/cli_flags.h"
#include "client/commands.h"
#include "client/retrain_flags.h"
#include "core/status_macros.h"

namespace streamfit {

absl::Status RunGap(LearnerClient& client, const Args& args) {
  ASSIGN_OR_RETURN(
      const std::string model,
      ModelNameArg(args,
                   "streamfit gap MODEL [--window N] [--fit A] [--json]"));
  v1::MeasureBatchGapRequest request;
  request.set_model(model);
  request.set_window(absl::GetFlag(FLAGS_window));
  request.set_algorithm(absl::GetFlag(FLAGS_fit));
  ASSIGN_OR_RETURN(const v1::BatchGap gap, client.MeasureBatchGap(request));
  if (absl::GetFlag(FLAGS_json)) return PrintJson(gap);
  std::cout << DescribeBatchGap(gap) << "\n";
  return absl::OkStatus();
}

}  // namespace streamfit
