#include "server/snapshot_codec.h"

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/storage/file_util.h"
#include "server/proto_convert.h"

namespace streamfit {

uint64_t SnapshotBytesBound(const ModelConfig& config) {
  const uint64_t k = NumOutputs(config), d = config.num_features;
  const uint64_t slots = uint64_t{1} << config.hash_bits;
  // The raw function (weights, bias), then the state tensors: weights, bias,
  // dense optimizer values, slot numbers and their values, feature
  // statistics, the recent metrics window, the averaging accumulators
  // (dense, and slot numbers with one value per output), and the small
  // tensors.
  const uint64_t averaging =
      Averages(config) ? k * (d + 1) + slots * (1 + k) : 0;
  const uint64_t doubles =
      (k * d + k) + (k * d + k) + 2 * k * (d + 1) + slots * (1 + 3 * k) +
      3 * d + 2 * ProgressiveMetrics::kDefaultWindow + averaging + 32;
  // Tags and lengths: a few bytes per field and tensor; the name, the
  // config and the metrics are small.
  constexpr uint64_t kFraming = 4096;
  return 8 * doubles + ToProto(config).ByteSizeLong() + kFraming;
}

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

std::string EncodeCheckpoint(const std::string& name,
                             const PublishedSlot& slot) {
  v1::ModelSnapshot snapshot;
  ToSnapshot(name, *slot.champion, &snapshot);
  for (const ChallengerState& c : slot.challengers) {
    const ChallengerRecord& r = c.record;
    v1::ChallengerSnapshot* out = snapshot.add_challengers();
    ToSnapshot(r.name, c.model, out->mutable_state());
    out->set_name(r.name);
    out->set_start_version(r.start_version);
    out->set_comparison_start(r.comparison_start);
    out->set_model_loss_at_start(r.champion_loss_at_start);
    out->set_challenger_loss_at_start(r.challenger_loss_at_start);
    out->mutable_block_differences()->Assign(r.block_differences.begin(),
                                             r.block_differences.end());
    out->set_model_loss_at_block(r.champion_loss_at_block);
    out->set_challenger_loss_at_block(r.challenger_loss_at_block);
  }
  return snapshot.SerializeAsString();
}

absl::StatusOr<SlotState> DecodeCheckpoint(const std::string& bytes) {
  v1::ModelSnapshot snapshot;
  if (!snapshot.ParseFromString(bytes)) {
    return absl::DataLossError("not a serialized model snapshot");
  }
  ASSIGN_OR_RETURN(LinearModel champion, FromSnapshot(snapshot));
  SlotState slot{std::move(champion), {}};
  for (const v1::ChallengerSnapshot& c : snapshot.challengers()) {
    ASSIGN_OR_RETURN(LinearModel model, FromSnapshot(c.state()));
    if (model.version() != slot.champion.version()) {
      return absl::DataLossError(absl::StrCat(
          "challenger '", c.name(), "' is at version ", model.version(),
          ", the model at ", slot.champion.version()));
    }
    ChallengerRecord r;
    r.name = c.name();
    r.start_version = c.start_version();
    r.comparison_start = c.comparison_start();
    r.champion_loss_at_start = c.model_loss_at_start();
    r.challenger_loss_at_start = c.challenger_loss_at_start();
    r.block_differences.assign(c.block_differences().begin(),
                               c.block_differences().end());
    r.champion_loss_at_block = c.model_loss_at_block();
    r.challenger_loss_at_block = c.challenger_loss_at_block();
    slot.challengers.push_back({std::move(r), std::move(model)});
  }
  return slot;
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
