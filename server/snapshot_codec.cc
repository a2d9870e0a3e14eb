#include "server/snapshot_codec.h"

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "server/proto_convert.h"

namespace streamfit {

absl::StatusOr<LinearModel> FromSnapshot(const v1::ModelSnapshot& snapshot) {
  ASSIGN_OR_RETURN(const ModelConfig config,
                   WithDefaults(FromProto(snapshot.config())));
  std::vector<NamedTensor> state;
  for (const v1::Tensor& t : snapshot.state()) {
    state.push_back({t.name(),
                     {t.shape().begin(), t.shape().end()},
                     {t.values().begin(), t.values().end()}});
  }
  return LinearModel::FromState(config, snapshot.model_version(), state);
}

std::string EncodeState(const std::string& name, const LinearModel& state) {
  v1::ModelSnapshot snapshot;
  ToSnapshot(name, state, &snapshot);
  return snapshot.SerializeAsString();
}

absl::StatusOr<LinearModel> DecodeState(const std::string& bytes) {
  v1::ModelSnapshot snapshot;
  if (!snapshot.ParseFromString(bytes)) {
    return absl::DataLossError("not a serialized model snapshot");
  }
  return FromSnapshot(snapshot);
}

std::string EncodeSnapshotFile(const v1::ModelSnapshot& snapshot) {
  return EncodeFramed("SFSNAP1\n", snapshot.SerializeAsString());
}

absl::StatusOr<v1::ModelSnapshot> DecodeSnapshotFile(const std::string& data) {
  ASSIGN_OR_RETURN(const std::string payload,
                   DecodeFramed("SFSNAP1\n", data, "snapshot file"));
  v1::ModelSnapshot snapshot;
  if (!snapshot.ParseFromString(payload)) {
    return absl::DataLossError("snapshot file: not a serialized snapshot");
  }
  return snapshot;
}

}  // namespace streamfit
