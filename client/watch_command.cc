// `streamfit watch MODEL [--json]`: prints the model's events as the server
// streams them (drifts, retrain jobs starting, swapping and ending,
// Restores), one line each, until the model is deleted or the tool is
// interrupted.
#include <google/protobuf/util/json_util.h>

#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "client/cli_common.h"
#include "client/cli_flags.h"
#include "client/commands.h"

namespace streamfit {
namespace {

std::string Describe(const v1::ModelEvent& event) {
  std::string line = absl::StrCat(v1::ModelEvent::Kind_Name(event.kind()),
                                  " version ", event.model_version());
  if (event.kind() == v1::ModelEvent::DRIFT_DETECTED) {
    absl::StrAppend(&line, " (", event.drifts(), " since the last report)");
  }
  if (event.has_retrain_job()) {
    absl::StrAppend(&line, " job ", event.retrain_job().id(), " ",
                    v1::RetrainState_Name(event.retrain_job().state()));
  }
  return line;
}

}  // namespace

absl::Status RunWatch(LearnerClient& client, const Args& args) {
  if (args.size() != 1) return UsageError("usage: streamfit watch MODEL");
  const bool json = absl::GetFlag(FLAGS_json);
  absl::Status printed;
  absl::Status ended = client.WatchModel(
      args[0],
      [&] { std::cerr << "watching model '" << args[0] << "'" << std::endl; },
      [&](const v1::ModelEvent& event) {
        if (!json) {
          std::cout << Describe(event) << std::endl;
          return;
        }
        google::protobuf::util::JsonPrintOptions options;
        options.preserve_proto_field_names = true;
        std::string line;
        const auto status =
            google::protobuf::util::MessageToJsonString(event, &line, options);
        if (status.ok()) {
          std::cout << line << std::endl;
        } else {
          printed.Update(absl::InternalError(status.ToString()));
        }
      });
  printed.Update(ended);
  return printed;
}

}  // namespace streamfit
