// The subcommands of the `streamfit` tool. Each takes the positional
// arguments after the command name, reads its flags (cli_flags.h), writes its
// result to stdout (diagnostics to stderr) and returns the first error.
#ifndef STREAMFIT_CLIENT_COMMANDS_H_
#define STREAMFIT_CLIENT_COMMANDS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/learner_client.h"

namespace streamfit {

using Args = std::vector<std::string>;

absl::Status RunModels(LearnerClient& client, const Args& args);
absl::Status RunCreate(LearnerClient& client, const Args& args);
absl::Status RunGet(LearnerClient& client, const Args& args);
absl::Status RunDelete(LearnerClient& client, const Args& args);
absl::Status RunObserve(LearnerClient& client, const Args& args);
absl::Status RunPredict(LearnerClient& client, const Args& args);
absl::Status RunSnapshot(LearnerClient& client, const Args& args);
absl::Status RunSnapshots(LearnerClient& client, const Args& args);
// Datasets and retraining.
absl::Status RunDataset(LearnerClient& client, const Args& args);
absl::Status RunRetrain(LearnerClient& client, const Args& args);
absl::Status RunJobs(LearnerClient& client, const Args& args);
absl::Status RunRestore(LearnerClient& client, const Args& args);
absl::Status RunWatch(LearnerClient& client, const Args& args);
absl::Status RunGap(LearnerClient& client, const Args& args);
absl::Status RunChallenger(LearnerClient& client, const Args& args);
// The standard gRPC health check of --service; OK only when SERVING.
absl::Status RunHealth(std::shared_ptr<grpc::Channel> channel,
                       const Args& args);

}  // namespace streamfit

#endif  // STREAMFIT_CLIENT_COMMANDS_H_
