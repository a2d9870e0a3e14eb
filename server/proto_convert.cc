#include "server/proto_convert.h"

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace streamfit {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  // absl and gRPC share the canonical code numbers.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

ModelConfig FromProto(const v1::ModelConfig& proto) {
  ModelConfig config;
  config.task = static_cast<Task>(proto.task());
  config.num_features = proto.num_features();
  config.num_classes = proto.num_classes();
  config.schedule = static_cast<Schedule>(proto.schedule());
  if (proto.has_learning_rate()) config.learning_rate = proto.learning_rate();
  if (proto.has_power_t()) config.power_t = proto.power_t();
  if (proto.has_l2()) config.l2 = proto.l2();
  config.standardize = !proto.disable_standardization();
  return config;
}

v1::ModelConfig ToProto(const ModelConfig& config) {
  v1::ModelConfig proto;
  proto.set_task(static_cast<v1::Task>(config.task));
  proto.set_num_features(config.num_features);
  proto.set_num_classes(config.num_classes);
  proto.set_schedule(static_cast<v1::LearningRateSchedule>(config.schedule));
  if (config.learning_rate) proto.set_learning_rate(*config.learning_rate);
  if (config.power_t) proto.set_power_t(*config.power_t);
  if (config.l2) proto.set_l2(*config.l2);
  proto.set_disable_standardization(!config.standardize);
  return proto;
}

void ToProto(const MetricsSummary& m, v1::ModelMetrics* proto) {
  proto->set_samples_seen(m.samples_seen);
  proto->set_progressive_loss(m.progressive_loss);
  proto->set_recent_loss(m.recent_loss);
  proto->set_recent_window(m.recent_window);
  proto->set_progressive_accuracy(m.progressive_accuracy);
  proto->set_recent_accuracy(m.recent_accuracy);
  proto->set_progressive_mae(m.progressive_mae);
  proto->set_progressive_mse(m.progressive_mse);
}

absl::StatusOr<ExampleBatch> ToExampleBatch(
    const google::protobuf::RepeatedPtrField<v1::Example>& examples,
    const ModelConfig& config) {
  ExampleBatch batch;
  batch.num_features = config.num_features;
  batch.values.reserve(static_cast<size_t>(examples.size()) *
                       config.num_features);
  batch.labels.reserve(examples.size());
  batch.weights.reserve(examples.size());
  for (int i = 0; i < examples.size(); ++i) {
    const v1::Example& e = examples[i];
    const auto& dense = e.features().dense();
    if (static_cast<uint32_t>(dense.size()) != config.num_features) {
      return absl::InvalidArgumentError(
          absl::StrCat("example ", i, ": features.dense has ", dense.size(),
                       " values, the model has ", config.num_features,
                       " features"));
    }
    batch.Add({dense.data(), static_cast<size_t>(dense.size())}, e.label(),
              e.weight() == 0 ? 1.0f : e.weight());
  }
  RETURN_IF_ERROR(ValidateBatch(batch, config));
  return batch;
}

absl::Status PredictFromState(const LinearModel& state,
                              const v1::PredictRequest& request,
                              v1::PredictResponse* response) {
  const auto& inputs = request.features();
  for (int i = 0; i < inputs.size(); ++i) {
    const auto& dense = inputs[i].dense();
    RETURN_IF_ERROR(ValidateFeatures(
        {dense.data(), static_cast<size_t>(dense.size())}, state.config(), i));
  }
  response->set_model_version(state.version());
  Prediction p;
  for (const v1::Features& f : inputs) {
    state.Predict({f.dense().data(), static_cast<size_t>(f.dense_size())}, p);
    v1::Prediction* out = response->add_predictions();
    out->set_value(p.value);
    out->mutable_scores()->Add(p.scores.begin(), p.scores.end());
  }
  return absl::OkStatus();
}

void ToModelInfo(const std::string& name, const LinearModel& state,
                 v1::ModelInfo* info) {
  info->set_name(name);
  *info->mutable_config() = ToProto(state.config());
  info->set_model_version(state.version());
  ToProto(state.metrics(), info->mutable_metrics());
}

void ToSnapshot(const std::string& name, const LinearModel& state,
                v1::ModelSnapshot* snapshot) {
  snapshot->set_model(name);
  snapshot->set_model_version(state.version());
  *snapshot->mutable_config() = ToProto(state.config());
  ToProto(state.metrics(), snapshot->mutable_metrics());
  const RawLinearFunction f = state.RawFunction();
  for (int k = 0; k < f.weights.rows(); ++k) {
    for (int j = 0; j < f.weights.cols(); ++j) {
      snapshot->add_weights(f.weights(k, j));
    }
    snapshot->add_bias(f.bias[k]);
  }
  for (const NamedTensor& t : state.ExportState()) {
    v1::Tensor* out = snapshot->add_state();
    out->set_name(t.name);
    out->mutable_shape()->Add(t.shape.begin(), t.shape.end());
    out->mutable_values()->Add(t.values.begin(), t.values.end());
  }
}

}  // namespace streamfit
