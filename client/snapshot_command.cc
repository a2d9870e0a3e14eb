// `streamfit snapshot NAME [--out FILE] [--to_file SAVED]`: the model's
// snapshot as JSON (optionally also saved on the server), and `streamfit
// snapshots [MODEL | rm SAVED]`: the snapshots saved on the server.
#include <cerrno>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "client/cli_common.h"
#include "client/cli_flags.h"
#include "client/commands.h"
#include "core/json_string.h"
#include "core/status_macros.h"

namespace streamfit {

absl::Status RunSnapshot(LearnerClient& client, const Args& args) {
  ASSIGN_OR_RETURN(
      const std::string name,
      ModelNameArg(args,
                   "streamfit snapshot NAME [--out FILE] [--to_file SAVED]"));
  v1::SnapshotRequest request;
  request.set_model(name);
  request.set_to_file(absl::GetFlag(FLAGS_to_file));
  ASSIGN_OR_RETURN(const v1::ModelSnapshot snapshot, client.Snapshot(request));
  if (!request.to_file().empty()) {
    std::cerr << "saved snapshot of model '" << name << "' at version "
              << snapshot.model_version() << " on the server as '"
              << request.to_file() << "'\n";
  }
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

absl::Status RunSnapshots(LearnerClient& client, const Args& args) {
  if (args.size() == 2 && args[0] == "rm") {
    RETURN_IF_ERROR(client.DeleteSnapshot(args[1]));
    if (absl::GetFlag(FLAGS_json)) {
      std::cout << "{\"deleted\": " << JsonString(args[1]) << "}\n";
    } else {
      std::cout << "deleted snapshot '" << args[1] << "'\n";
    }
    return absl::OkStatus();
  }
  if (args.size() > 1) {
    return UsageError("usage: streamfit snapshots [MODEL | rm SAVED] [--json]");
  }
  ASSIGN_OR_RETURN(const v1::ListSnapshotsResponse list,
                   client.ListSnapshots(args.empty() ? "" : args[0]));
  if (absl::GetFlag(FLAGS_json)) return PrintJson(list);
  std::cout << absl::StrFormat("%-24s %-16s %10s %12s  %s\n", "NAME", "MODEL",
                               "VERSION", "BYTES", "SAVED");
  for (const v1::SnapshotInfo& s : list.snapshots()) {
    std::cout << absl::StrFormat(
        "%-24s %-16s %10d %12d  %s\n", s.name(), s.model(), s.model_version(),
        s.bytes(),
        absl::FormatTime("%Y-%m-%d %H:%M:%S",
                         absl::FromUnixMillis(s.modified_unix_ms()),
                         absl::UTCTimeZone()));
  }
  for (const std::string& bad : list.unreadable()) {
    std::cerr << "unreadable: " << bad << "\n";
  }
  return absl::OkStatus();
}

}  // namespace streamfit
