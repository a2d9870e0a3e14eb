// Fuzz target: Observe and Predict request conversion and validation
// (server/proto_convert.cc), then what the server does with an accepted
// request: learn its examples, answer a Predict from the model.
// Input: a selector byte (model config, Observe or Predict), then a
// serialized v1::ObserveRequest or v1::PredictRequest.
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "core/model/linear_model.h"
#include "core/model/model_trainer.h"
#include "server/proto_convert.h"
#include "tests/fuzz/fuzz_input.h"

namespace streamfit {
namespace {

// Models as CreateModel accepts them: dense regression, a binary model with
// hashed features and interactions, a multiclass model, a sparse-only one.
ModelConfig Config(int which) {
  ModelConfig c;
  switch (which) {
    case 0:
      c.task = Task::kRegression;
      c.num_features = 3;
      break;
    case 1:
      c.task = Task::kBinary;
      c.num_features = 2;
      c.hash_bits = 10;
      c.interactions = {{"", ""}, {"a", "b"}};
      break;
    case 2:
      c.task = Task::kMulticlass;
      c.num_features = 2;
      c.num_classes = 3;
      c.optimizer = Optimizer::kFtrl;
      break;
    default:
      c.task = Task::kRegression;
      c.num_features = 0;
      c.hash_bits = 8;
      c.optimizer = Optimizer::kAdam;
      break;
  }
  return *WithDefaults(c);
}

// A served prediction is finite (multiclass: a class index and
// probabilities).
void CheckPredictions(const v1::PredictResponse& response) {
  for (const v1::Prediction& p : response.predictions()) {
    if (!std::isfinite(p.value())) std::abort();
    for (double s : p.scores()) {
      if (!(s >= 0 && s <= 1)) std::abort();
    }
  }
}

}  // namespace
}  // namespace streamfit

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace streamfit;
  fuzz::FuzzInput in(data, size);
  const uint8_t selector = in.Byte();
  const absl::string_view bytes = in.Rest();
  const ModelConfig config = Config(selector & 3);
  absl::StatusOr<ModelTrainer> trainer = ModelTrainer::Create(config);
  if (!trainer.ok()) std::abort();
  const LinearModel& model = trainer->model();

  if ((selector & 4) == 0) {
    v1::ObserveRequest request;
    if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return 0;
    }
    absl::StatusOr<ExampleBatch> batch = ToExampleBatch(request, config);
    if (!batch.ok()) return 0;
    if (batch->num_features != config.num_features ||
        batch->values.size() != batch->size() * config.num_features) {
      std::abort();
    }
    trainer->LearnBatch(*batch);
    // Predict the learned examples back, as a client would.
    v1::PredictRequest predict;
    for (const v1::Example& e : request.examples()) {
      *predict.add_features() = e.features();
    }
    *predict.mutable_dense_batch() = request.dense_batch();
    v1::PredictResponse response;
    if (!PredictFromState(model, predict, &response).ok()) std::abort();
    if (static_cast<size_t>(response.predictions_size()) != batch->size()) {
      std::abort();
    }
    CheckPredictions(response);
  } else {
    v1::PredictRequest request;
    if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return 0;
    }
    v1::PredictResponse response;
    if (PredictFromState(model, request, &response).ok()) {
      CheckPredictions(response);
    }
  }
  return 0;
}
