// `streamfit restore NAME FILE | NAME --from_snapshot SAVED
// [--allow_reshape]`: replaces a model's state by a snapshot that `streamfit
// snapshot NAME --out FILE` wrote (JSON) or `--to_file SAVED` saved on the
// server; one of another task, feature layout or class count only with
// --allow_reshape.
#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "client/cli_common.h"
#include "client/cli_flags.h"
#include "client/commands.h"
#include "core/status_macros.h"

namespace streamfit {

absl::Status RunRestore(LearnerClient& client, const Args& args) {
  const std::string saved = absl::GetFlag(FLAGS_from_snapshot);
  if (!saved.empty()) {
    if (args.size() != 1) {
      return UsageError(
          "usage: streamfit restore NAME --from_snapshot SAVED [--json]");
    }
    v1::RestoreRequest request;
    request.set_model(args[0]);
    request.set_snapshot_name(saved);
    request.set_allow_reshape(absl::GetFlag(FLAGS_allow_reshape));
    ASSIGN_OR_RETURN(const v1::ModelInfo info, client.Restore(request));
    if (absl::GetFlag(FLAGS_json)) return PrintJson(info);
    std::cerr << "restored model '" << info.name() << "' to version "
              << info.model_version() << " from saved snapshot '" << saved
              << "'\n";
    return absl::OkStatus();
  }
  if (args.size() != 2) {
    return UsageError(
        "usage: streamfit restore NAME FILE | NAME --from_snapshot SAVED "
        "[--json]");
  }
  std::ifstream in(args[1], std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", args[1]));
  }
  std::stringstream json;
  json << in.rdbuf();
  v1::ModelSnapshot snapshot;
  const auto parsed =
      google::protobuf::util::JsonStringToMessage(json.str(), &snapshot);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(args[1], " is not a snapshot: ", parsed.ToString()));
  }
  ASSIGN_OR_RETURN(
      const v1::ModelInfo info,
      client.Restore(args[0], snapshot, absl::GetFlag(FLAGS_allow_reshape)));
  if (absl::GetFlag(FLAGS_json)) return PrintJson(info);
  std::cerr << "restored model '" << info.name() << "' to version "
            << info.model_version() << " from " << args[1] << "\n";
  return absl::OkStatus();
}

}  // namespace streamfit
