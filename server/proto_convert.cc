#include "server/proto_convert.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/model/feature_hash.h"
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
  config.optimizer = static_cast<Optimizer>(proto.optimizer());
  config.loss = static_cast<LossKind>(proto.loss());
  if (proto.has_l1()) config.l1 = proto.l1();
  if (proto.has_ftrl_beta()) config.ftrl_beta = proto.ftrl_beta();
  if (proto.has_adam_beta1()) config.adam_beta1 = proto.adam_beta1();
  if (proto.has_adam_beta2()) config.adam_beta2 = proto.adam_beta2();
  if (proto.has_huber_delta()) config.huber_delta = proto.huber_delta();
  if (proto.has_quantile_tau()) config.quantile_tau = proto.quantile_tau();
  if (proto.has_max_gradient()) config.max_gradient = proto.max_gradient();
  if (proto.has_rls_ridge()) config.rls_ridge = proto.rls_ridge();
  if (proto.has_rls_forgetting()) {
    config.rls_forgetting = proto.rls_forgetting();
  }
  config.hash_bits = proto.hash_bits();
  for (const v1::NamespacePair& pair : proto.interactions()) {
    config.interactions.emplace_back(pair.first(), pair.second());
  }
  config.class_weights.assign(proto.class_weights().begin(),
                              proto.class_weights().end());
  config.drift_detector =
      static_cast<DriftDetectorKind>(proto.drift_detector());
  config.drift_policy = static_cast<DriftPolicy>(proto.drift_policy());
  const v1::ModelPolicies& policies = proto.policies();
  config.policies = {
      .retrain_samples = policies.retrain_samples(),
      .retrain_dataset = policies.retrain_dataset(),
      .batch_gap_every = policies.batch_gap_every(),
      .batch_gap_window = policies.batch_gap_window(),
      .batch_gap_retrain_ratio = policies.batch_gap_retrain_ratio(),
      .promote_confidence = policies.promote_confidence(),
      .promote_window = policies.promote_window()};
  config.serving = static_cast<Serving>(proto.serving());
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
  proto.set_optimizer(static_cast<v1::Optimizer>(config.optimizer));
  proto.set_loss(static_cast<v1::Loss>(config.loss));
  if (config.l1) proto.set_l1(*config.l1);
  if (config.ftrl_beta) proto.set_ftrl_beta(*config.ftrl_beta);
  if (config.adam_beta1) proto.set_adam_beta1(*config.adam_beta1);
  if (config.adam_beta2) proto.set_adam_beta2(*config.adam_beta2);
  if (config.huber_delta) proto.set_huber_delta(*config.huber_delta);
  if (config.quantile_tau) proto.set_quantile_tau(*config.quantile_tau);
  if (config.max_gradient) proto.set_max_gradient(*config.max_gradient);
  if (config.rls_ridge) proto.set_rls_ridge(*config.rls_ridge);
  if (config.rls_forgetting) proto.set_rls_forgetting(*config.rls_forgetting);
  proto.set_hash_bits(config.hash_bits);
  for (const auto& [first, second] : config.interactions) {
    v1::NamespacePair* pair = proto.add_interactions();
    pair->set_first(first);
    pair->set_second(second);
  }
  proto.mutable_class_weights()->Add(config.class_weights.begin(),
                                     config.class_weights.end());
  proto.set_drift_detector(
      static_cast<v1::DriftDetector>(config.drift_detector));
  proto.set_drift_policy(static_cast<v1::DriftPolicy>(config.drift_policy));
  v1::ModelPolicies* policies = proto.mutable_policies();
  policies->set_retrain_samples(config.policies.retrain_samples);
  policies->set_retrain_dataset(config.policies.retrain_dataset);
  policies->set_batch_gap_every(config.policies.batch_gap_every);
  policies->set_batch_gap_window(config.policies.batch_gap_window);
  policies->set_batch_gap_retrain_ratio(
      config.policies.batch_gap_retrain_ratio);
  policies->set_promote_confidence(config.policies.promote_confidence);
  policies->set_promote_window(config.policies.promote_window);
  proto.set_serving(static_cast<v1::Serving>(config.serving));
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
  proto->set_skipped_updates(m.skipped_updates);
  proto->set_drifts_detected(m.drifts_detected);
  proto->set_last_drift_version(m.last_drift_version);
}

namespace {

// Appends `f` to `batch` as one example (`what` `index` in error messages);
// its dense part must already have the model's length. Sparse and named
// features are hashed straight into the batch; on an error the batch is left
// part-written, so callers drop it. INVALID_ARGUMENT names the input
// ("example 3: ") and the field.
absl::Status AppendFeatures(const v1::Features& f, absl::string_view what,
                            size_t index, double label, float weight,
                            ExampleBatch& batch) {
  if (f.indices_size() != f.values_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " ", index, ": features.indices has ", f.indices_size(),
        " entries but features.values has ", f.values_size()));
  }
  const uint32_t index_ns = HashNamespace("");
  for (int j = 0; j < f.indices_size(); ++j) {
    if (!(std::abs(f.values(j)) <= kMaxAbsValue)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " ", index, ": features.values[", j, "] is ",
                       f.values(j), ", not a number within 1e18 in magnitude"));
    }
    batch.AddSparse(HashFeatureIndex(index_ns, f.indices(j)), index_ns,
                    f.values(j));
  }
  for (int j = 0; j < f.named_size(); ++j) {
    const v1::NamedFeature& nf = f.named(j);
    if (!(std::abs(nf.value()) <= kMaxAbsValue)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " ", index, ": features.named[", j, "].value is ",
                       nf.value(), ", not a number within 1e18 in magnitude"));
    }
    const uint32_t ns = HashNamespace(nf.namespace_());
    batch.AddSparse(HashFeatureName(ns, nf.name()), ns,
                    nf.value() == 0 ? 1.0f : nf.value());
  }
  if (f.hashed_namespaces_size() != f.hashes_size() ||
      f.hashed_values_size() != f.hashes_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " ", index, ": features.hashes has ", f.hashes_size(),
        " entries, hashed_namespaces ", f.hashed_namespaces_size(),
        " and hashed_values ", f.hashed_values_size(), "; they must agree"));
  }
  for (int j = 0; j < f.hashes_size(); ++j) {
    const float value = f.hashed_values(j);
    if (!(std::abs(value) <= kMaxAbsValue)) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " ", index, ": features.hashed_values[", j, "] is ", value,
          ", not a number within 1e18 in magnitude"));
    }
    batch.AddSparse(f.hashes(j), f.hashed_namespaces(j),
                    value == 0 ? 1.0f : value);
  }
  batch.Add(std::span<const float>(f.dense().data(),
                                   static_cast<size_t>(f.dense_size())),
            label, weight);
  return absl::OkStatus();
}

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
  if (config.num_features == 0) {
    return absl::InvalidArgumentError(
        "dense_batch: the model has no dense features");
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
  size_t sparse_entries = 0;
  for (const v1::Example& e : examples) {
    sparse_entries += e.features().indices_size() + e.features().named_size() +
                      e.features().hashes_size();
  }
  if (sparse_entries > 0) batch.ReserveSparse(n, sparse_entries);
  for (int i = 0; i < examples.size(); ++i) {
    const v1::Example& e = examples[i];
    const auto& values = e.features().dense();
    if (static_cast<uint32_t>(values.size()) != config.num_features) {
      return absl::InvalidArgumentError(absl::StrCat(
          "example ", i, ": features.dense has ", values.size(),
          " values, the model has ", config.num_features, " features"));
    }
    RETURN_IF_ERROR(AppendFeatures(e.features(), "example", i, e.label(),
                                   e.weight() == 0 ? 1.0f : e.weight(), batch));
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
  if (!batch.sparse_offsets.empty()) {
    // Dense-batch rows have no sparse features.
    batch.sparse_offsets.resize(n + 1, batch.sparse_hashes.size());
  }
  RETURN_IF_ERROR(ValidateBatch(batch, config, examples.size()));
  return batch;
}

absl::Status PredictFromState(const LinearModel& state,
                              const v1::PredictRequest& request,
                              v1::PredictResponse* response) {
  const ModelConfig& config = state.config();
  const auto& inputs = request.features();
  size_t dense_rows;
  RETURN_IF_ERROR(CheckDenseBatch(request.dense_batch(), config,
                                  /*labeled=*/false, &dense_rows));
  // The inputs as one batch (labels unused), so sparse ones are hashed once.
  ExampleBatch batch;
  batch.num_features = config.num_features;
  for (int i = 0; i < inputs.size(); ++i) {
    const v1::Features& f = inputs[i];
    const std::span<const float> dense(f.dense().data(),
                                       static_cast<size_t>(f.dense_size()));
    RETURN_IF_ERROR(ValidateFeatures(dense, config, i));
    RETURN_IF_ERROR(AppendFeatures(f, "features", i, 0, 1, batch));
  }
  const float* packed = request.dense_batch().values().data();
  for (size_t i = 0; i < dense_rows; ++i) {
    const std::span<const float> row(packed + i * config.num_features,
                                     config.num_features);
    RETURN_IF_ERROR(ValidateFeatures(row, config, inputs.size() + i));
    batch.Add(row, 0);
  }
  if (!batch.sparse_offsets.empty()) {  // the work of hashed inputs
    for (int i = 0; i < inputs.size(); ++i) {
      RETURN_IF_ERROR(ValidateFeatures(batch.view(i), config, i));
    }
  }
  response->set_model_version(state.version());
  // One set of buffers for every row: no allocation per row.
  ScoreBuffers buffers;
  Prediction p;
  for (size_t i = 0; i < batch.size(); ++i) {
    state.Predict(batch.view(i), buffers, p);
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
  switch (state.Served()) {
    case ServedWeights::kLive:
      info->set_served_weights(v1::SERVED_WEIGHTS_LIVE);
      break;
    case ServedWeights::kAveraged:
      info->set_served_weights(v1::SERVED_WEIGHTS_AVERAGED);
      break;
    case ServedWeights::kLeastSquares:
      info->set_served_weights(v1::SERVED_WEIGHTS_LEAST_SQUARES);
      break;
    case ServedWeights::kKalman:
      info->set_served_weights(v1::SERVED_WEIGHTS_KALMAN);
      break;
  }
}

void ToProto(
    const PublishedSlot& slot,
    google::protobuf::RepeatedPtrField<v1::Challenger>* challengers,
    google::protobuf::RepeatedPtrField<v1::DroppedChallenger>* dropped) {
  const LinearModel& champion = *slot.champion;
  for (const ChallengerState& c : slot.challengers) {
    v1::Challenger* out = challengers->Add();
    out->set_name(c.record.name);
    *out->mutable_config() = ToProto(c.model.config());
    out->set_start_version(c.record.start_version);
    out->set_model_version(c.model.version());
    ToProto(c.model.metrics(), out->mutable_metrics());
    const ChallengerComparison compared = Compare(
        c.record, champion, c.model, champion.config().policies.promote_window);
    v1::ChallengerComparison* comparison = out->mutable_comparison();
    comparison->set_compared_samples(compared.compared_samples);
    comparison->set_model_loss(compared.champion_loss);
    comparison->set_challenger_loss(compared.challenger_loss);
    comparison->set_window_samples(compared.window_samples);
    comparison->set_loss_difference(compared.loss_difference);
    comparison->set_confidence(compared.confidence);
  }
  for (const DroppedChallenger& d : slot.dropped) {
    v1::DroppedChallenger* out = dropped->Add();
    out->set_name(d.name);
    out->set_model_version(d.version);
    out->set_reason(d.reason);
  }
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
