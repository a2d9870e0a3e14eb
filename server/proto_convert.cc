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

namespace {

// Checks a DenseBatch's shape; `rows` receives its example count.
absl::Status CheckDenseBatch(const v1::DenseBatch& dense,
                             const ModelConfig& config, bool labeled,
                             size_t* rows) {
  if (dense.values_size() == 0 && dense.labels_size() == 0) {
    *rows = 0;
    return absl::OkStatus();
  }
  if (dense.num_features() != config.num_features) {
    return absl::InvalidArgumentError(
        absl::StrCat("dense_batch.num_features is ", dense.num_features(),
                     ", the model has ", config.num_features, " features"));
  }
  if (dense.values_size() % config.num_features != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("dense_batch.values has ", dense.values_size(),
                     " values, not a multiple of num_features"));
  }
  *rows = dense.values_size() / config.num_features;
  if (labeled && static_cast<size_t>(dense.labels_size()) != *rows) {
    return absl::InvalidArgumentError(
        absl::StrCat("dense_batch has ", *rows, " rows but ",
                     dense.labels_size(), " labels"));
  }
  if (labeled && dense.weights_size() != 0 &&
      static_cast<size_t>(dense.weights_size()) != *rows) {
    return absl::InvalidArgumentError(
        absl::StrCat("dense_batch has ", *rows, " rows but ",
                     dense.weights_size(), " weights"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ExampleBatch> ToExampleBatch(const v1::ObserveRequest& request,
                                            const ModelConfig& config) {
  const auto& examples = request.examples();
  const v1::DenseBatch& dense = request.dense_batch();
  size_t dense_rows;
  RETURN_IF_ERROR(
      CheckDenseBatch(dense, config, /*labeled=*/true, &dense_rows));
  const size_t n = examples.size() + dense_rows;
  ExampleBatch batch;
  batch.num_features = config.num_features;
  batch.values.reserve(n * config.num_features);
  batch.labels.reserve(n);
  batch.weights.reserve(n);
  for (int i = 0; i < examples.size(); ++i) {
    const v1::Example& e = examples[i];
    const auto& values = e.features().dense();
    if (static_cast<uint32_t>(values.size()) != config.num_features) {
      return absl::InvalidArgumentError(absl::StrCat(
          "example ", i, ": features.dense has ", values.size(),
          " values, the model has ", config.num_features, " features"));
    }
    batch.Add({values.data(), static_cast<size_t>(values.size())}, e.label(),
              e.weight() == 0 ? 1.0f : e.weight());
  }
  batch.values.insert(batch.values.end(), dense.values().begin(),
                      dense.values().end());
  batch.labels.insert(batch.labels.end(), dense.labels().begin(),
                      dense.labels().end());
  if (dense.weights_size() == 0) {
    batch.weights.resize(n, 1.0f);
  } else {
    for (float w : dense.weights()) batch.weights.push_back(w == 0 ? 1.0f : w);
  }
  RETURN_IF_ERROR(ValidateBatch(batch, config));
  return batch;
}

absl::Status PredictFromState(const LinearModel& state,
                              const v1::PredictRequest& request,
                              v1::PredictResponse* response) {
  const ModelConfig& config = state.config();
  const auto& inputs = request.features();
  std::vector<std::span<const float>> rows;
  rows.reserve(inputs.size());
  for (const v1::Features& f : inputs) {
    rows.emplace_back(f.dense().data(), static_cast<size_t>(f.dense_size()));
  }
  size_t dense_rows;
  RETURN_IF_ERROR(CheckDenseBatch(request.dense_batch(), config,
                                  /*labeled=*/false, &dense_rows));
  for (size_t i = 0; i < dense_rows; ++i) {
    rows.emplace_back(
        request.dense_batch().values().data() + i * config.num_features,
        config.num_features);
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    RETURN_IF_ERROR(ValidateFeatures(rows[i], config, i));
  }
  response->set_model_version(state.version());
  Prediction p;
  for (const auto& row : rows) {
    state.Predict(row, p);
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
