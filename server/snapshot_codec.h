// Model states as bytes: the format of checkpoints, Snapshot.to_file files
// and Restore, a serialized v1::ModelSnapshot (config, version, named state
// tensors), so it follows the model's own ExportState/FromState.
#ifndef STREAMFIT_SERVER_SNAPSHOT_CODEC_H_
#define STREAMFIT_SERVER_SNAPSHOT_CODEC_H_

#include <string>

#include "absl/status/statusor.h"
#include "core/model/linear_model.h"
#include "core/model/model_slot.h"
#include "streamfit/v1/streamfit.pb.h"

namespace streamfit {

// Protobuf refuses to encode or decode a message of 2 GiB or more.
inline constexpr uint64_t kMaxSnapshotBytes = (uint64_t{1} << 31) - 1;

// An upper bound of the encoded size of a snapshot (or checkpoint) of a
// model with `config` (after WithDefaults): every hashed slot written, a
// full metrics window. At most 4/3 of ModelStateBytes plus a few kilobytes
// and the config's own size.
uint64_t SnapshotBytesBound(const ModelConfig& config);

// The model a snapshot describes, continuing bit-identically from it.
// INVALID_ARGUMENT if its config or state is invalid.
absl::StatusOr<LinearModel> FromSnapshot(const v1::ModelSnapshot& snapshot);

std::string EncodeState(const std::string& name, const LinearModel& state);
// DATA_LOSS if `bytes` is not a snapshot; INVALID_ARGUMENT as FromSnapshot.
absl::StatusOr<LinearModel> DecodeState(const std::string& bytes);
// A checkpoint: the champion's snapshot with its challengers
// (ModelSnapshot.challengers), and its inverse (errors as DecodeState; a
// challenger at another version than the champion is DATA_LOSS).
std::string EncodeCheckpoint(const std::string& name,
                             const PublishedSlot& slot);
absl::StatusOr<SlotState> DecodeCheckpoint(const std::string& bytes);

// A Snapshot.to_file file: the snapshot framed with a CRC-32C like a
// checkpoint, and its inverse (DATA_LOSS if torn or corrupt).
std::string EncodeSnapshotFile(const v1::ModelSnapshot& snapshot);
absl::StatusOr<v1::ModelSnapshot> DecodeSnapshotFile(const std::string& data);

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_SNAPSHOT_CODEC_H_
