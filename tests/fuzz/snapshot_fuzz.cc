// Fuzz target: model states as bytes (server/snapshot_codec.cc): a
// checkpoint payload or a Restore request's snapshot (DecodeState /
// FromSnapshot, down to LinearModel::FromState), and a Snapshot.to_file file
// (DecodeSnapshotFile). A state that loads must behave: it learns and
// predicts, and its own export loads again to the same state.
// Input: the bytes.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/model/linear_model.h"
#include "core/model/model_trainer.h"
#include "server/snapshot_codec.h"

namespace streamfit {
namespace {

void Exercise(const LinearModel& loaded) {
  const ModelConfig& config = loaded.config();
  // Re-encoding and decoding a loaded state gives the same state.
  absl::StatusOr<LinearModel> again = DecodeState(EncodeState("fuzz", loaded));
  if (!again.ok()) std::abort();
  const std::vector<NamedTensor> a = loaded.ExportState(),
                                 b = again->ExportState();
  if (a.size() != b.size()) std::abort();
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].shape != b[i].shape ||
        a[i].values.size() != b[i].values.size() ||
        (!a[i].values.empty() &&
         std::memcmp(a[i].values.data(), b[i].values.data(),
                     a[i].values.size() * sizeof(double)) != 0)) {
      std::abort();
    }
  }
  // One valid example: all-ones features (and one hashed feature when the
  // model has a sparse table), label 1 (a class for classifiers).
  ModelTrainer trainer(loaded);
  const LinearModel& model = trainer.model();
  const std::vector<float> dense(config.num_features, 1.0f);
  const uint32_t hash = 12345, ns = 0;
  const float value = 1.0f;
  ExampleView x{dense, {&hash, 1}, {&ns, 1}, {&value, 1}};
  trainer.Learn(x, 1.0, 1.0);
  Prediction p;
  model.Predict(x, p);
}

}  // namespace
}  // namespace streamfit

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace streamfit;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<LinearModel> state = DecodeState(bytes);
  if (state.ok()) Exercise(*state);
  absl::StatusOr<v1::ModelSnapshot> file = DecodeSnapshotFile(bytes);
  if (file.ok()) {
    absl::StatusOr<LinearModel> model = FromSnapshot(*file);
    if (model.ok()) Exercise(*model);
  }
  return 0;
}
