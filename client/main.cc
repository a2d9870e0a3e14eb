// The `streamfit` command-line tool: `streamfit COMMAND [ARGS] [--flags]`.
// Prints "error: CODE: message" on stderr and exits with 1 on a failure, 2 on
// a usage error (bad command line); --help prints the usage and exits 0.
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli_channel.h"
#include "client/cli_common.h"
#include "client/cli_flags.h"
#include "client/commands.h"
#include "client/learner_client.h"
#include "core/command_line.h"

namespace streamfit {
namespace {

struct Command {
  const char* name;
  const char* args;
  const char* help;
  absl::Status (*run)(LearnerClient&, const Args&);  // null: health
};

constexpr Command kCommands[] = {
    {"models", "", "list the models: version, samples, metrics, origin",
     RunModels},
    {"create", "NAME --task T --features N",
     "create a model (see the create flags)", RunCreate},
    {"get", "NAME",
     "print a model's state, metrics and lineage (--json: every field)",
     RunGet},
    {"delete", "NAME", "delete a model", RunDelete},
    {"observe", "NAME --file data.csv",
     "stream labeled examples (label first) to a model", RunObserve},
    {"predict", "NAME --file data.csv",
     "print one prediction per row; accuracy or MSE on stderr", RunPredict},
    {"snapshot", "NAME [--out FILE] [--to_file SAVED]",
     "print a model snapshot as JSON (--to_file: also save it on the server)",
     RunSnapshot},
    {"snapshots", "[MODEL | rm SAVED]",
     "list (or delete) the snapshots saved on the server", RunSnapshots},
    {"dataset", "upload FILE | ls | rm ID",
     "upload (prints the id last), list or delete datasets", RunDataset},
    {"retrain", "MODEL --dataset ID|--recent_samples N [--wait]",
     "refit a model from a dataset (or its recent samples) and swap it in",
     RunRetrain},
    {"gap", "MODEL [--window N] [--fit A]",
     "how far the online model is from the batch optimum on its recent "
     "samples (--json: every field)",
     RunGap},
    {"challenger",
     "MODEL [add NAME [--from_version V] [flags] | promote NAME | rm NAME]",
     "list a model's challengers; add one (create's learning flags; from an "
     "earlier version the log holds), promote one to serve, or remove one",
     RunChallenger},
    {"jobs", "[ID | cancel ID]", "list, show or cancel retrain jobs", RunJobs},
    {"restore", "NAME FILE | NAME --from_snapshot SAVED [--allow_reshape]",
     "replace a model's state by a snapshot (a snapshot --out file, or one "
     "saved on the server)",
     RunRestore},
    {"watch", "MODEL",
     "print the model's events as they happen: drifts, retrains, restores "
     "(--json: one object per line)",
     RunWatch},
    {"health", "[--service S]",
     "exit 0 only if the server is serving (a probe)", nullptr},
};

std::string Usage() {
  std::string usage =
      "a client of the streamfit online-learning service.\n\n"
      "usage: streamfit COMMAND [ARGS] [--server host:port] [flags]\n\n"
      "commands:\n";
  for (const Command& command : kCommands) {
    absl::StrAppend(&usage, absl::StrFormat("  %-8s %-28s %s\n", command.name,
                                            command.args, command.help));
  }
  return usage;
}

absl::Status Run(const std::vector<char*>& positional) {
  // positional[0] is the program name.
  if (positional.size() < 2) {
    return UsageError(
        "no command given; run 'streamfit --help' for the commands");
  }
  const std::string name = positional[1];
  const Args args(positional.begin() + 2, positional.end());
  for (const Command& command : kCommands) {
    if (name != command.name) continue;
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ChannelFromFlags();
    if (!channel.ok()) {
      return absl::IsInvalidArgument(channel.status())
                 ? UsageError(channel.status().message())
                 : channel.status();
    }
    if (command.run == nullptr) return RunHealth(*std::move(channel), args);
    LearnerClient::Options options;
    options.timeout = absl::GetFlag(FLAGS_timeout);
    LearnerClient client(*std::move(channel), options);
    return command.run(client, args);
  }
  return UsageError(absl::StrCat("unknown command '", name,
                                 "'; run 'streamfit --help' for the commands"));
}

}  // namespace
}  // namespace streamfit

int main(int argc, char** argv) {
  // --help lists the tool's own flags, not the libraries'.
  const std::vector<char*> positional = streamfit::ParseCommandLineOrExit(
      argc, argv,
      {streamfit::Usage() +
           "\nexit codes: 0 on success, 1 on an error (from the server or "
           "a file), 2 on a usage error.",
       [](absl::string_view path) {
         return absl::StrContains(path, "client/cli_flags.cc") ||
                absl::StrContains(path, "client/retrain_flags.cc");
       }});
  const absl::Status status = streamfit::Run(positional);
  if (!status.ok()) {
    std::cerr << "error: " << absl::StatusCodeToString(status.code()) << ": "
              << status.message() << "\n";
    return streamfit::IsUsageError(status) ? streamfit::kUsageExitCode : 1;
  }
  return 0;
}
