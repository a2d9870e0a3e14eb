// `streamfit snapshot NAME [--out FILE]`: the model's snapshot as JSON.
#include <cerrno>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "client/cli_common.h"
#include "client/cli_flags.h"
#include "client/commands.h"
#include "core/status_macros.h"

namespace streamfit {

absl::Status RunSnapshot(LearnerClient& client, const Args& args) {
  ASSIGN_OR_RETURN(const std::string name,
                   ModelNameArg(args, "streamfit snapshot NAME [--out FILE]"));
  ASSIGN_OR_RETURN(const v1::ModelSnapshot snapshot, client.Snapshot(name));
  ASSIGN_OR_RETURN(const std::string json, ToJson(snapshot));

  const std::string path = absl::GetFlag(FLAGS_out);
  if (path.empty()) {
    std::cout << json;
    return absl::OkStatus();
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << json;
  out.close();
  if (!out) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot write ", path));
  }
  std::cerr << "wrote snapshot of model '" << name << "' at version "
            << snapshot.model_version() << " to " << path << "\n";
  return absl::OkStatus();
}

}  // namespace streamfit
