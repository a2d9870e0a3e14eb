// LinearModel's state as named tensors: ExportState writes every value a
// model needs to continue bit-identically, FromState checks each tensor's
// presence, shape and range before building a model from them (so a
// restored model holds no value that learning from valid input could not
// produce). The tensors are listed in docs/LEARNING.md, "Snapshots".
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "core/model/example_batch.h"
#include "core/model/linear_model.h"
#include "core/model/model_config.h"
#include "core/model/progressive_metrics.h"
#include "core/model/running_stats.h"
#include "core/status_macros.h"

namespace streamfit {
namespace {

const NamedTensor* Find(const std::vector<NamedTensor>& state,
                        absl::string_view name) {
  for (const auto& t : state)
    if (t.name == name) return &t;
  return nullptr;
}

std::string ShapeString(const std::vector<uint32_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// The values of tensor `name`, which must have shape `shape` and finite
// values.
absl::StatusOr<const std::vector<double>*> Get(
    const std::vector<NamedTensor>& state, absl::string_view name,
    const std::vector<uint32_t>& shape) {
  const NamedTensor* t = Find(state, name);
  if (t == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("state has no ", name));
  }
  size_t size = 1;
  for (uint32_t n : shape) size *= n;
  if (t->shape != shape) {
    return absl::InvalidArgumentError(
        absl::StrCat("state ", name, " has shape ", ShapeString(t->shape),
                     ", the model's is ", ShapeString(shape)));
  }
  if (t->values.size() != size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state ", name, " has ", t->values.size(), " values, expected ", size));
  }
  for (size_t i = 0; i < size; ++i) {
    if (!std::isfinite(t->values[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("state ", name, "[", i, "] is not finite"));
    }
  }
  return &t->values;
}

// Counts are kept in doubles, exact up to 2^53.
constexpr double kMaxCount = 9007199254740992.0;  // 2^53

// OK if `v` (state name[i]) lies in [lo, hi] and, when `whole`, is a whole
// number.
absl::Status CheckValue(absl::string_view name, size_t i, double v, double lo,
                        double hi, bool whole = false) {
  if (v >= lo && v <= hi && (!whole || v == std::floor(v))) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("state ", name, "[", i, "] is ", v, ", must be ",
                   whole ? "a whole number " : "", "in [", lo, ", ", hi, "]"));
}

absl::Status CheckValues(absl::string_view name, const std::vector<double>& v,
                         double lo, double hi, bool whole = false) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (absl::Status s = CheckValue(name, i, v[i], lo, hi, whole); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// The optimizer values {a, b} of a coordinate that rule `rule` keeps
// non-negative (sums of squares, largest |x|): bit 0 for a, bit 1 for b.
int NonNegativeOptimizerValues(Optimizer rule) {
  switch (rule) {
    case Optimizer::kAdagrad:
      return 1;
    case Optimizer::kFtrl:
    case Optimizer::kAdam:
      return 2;
    case Optimizer::kNormalized:
      return 3;
    default:
      return 0;
  }
}

Eigen::VectorXd ToEigen(const std::vector<double>& v) {
  return Eigen::Map<const Eigen::VectorXd>(v.data(), v.size());
}

std::vector<double> FromEigen(const Eigen::VectorXd& v) {
  return {v.data(), v.data() + v.size()};
}

// Appends the rls rule's state as tensors PREFIX_inverse_gram and so on.
void ExportRls(const RlsState& rls, absl::string_view prefix, uint32_t d,
               std::vector<NamedTensor>& state) {
  RlsState::Values v = rls.Export();
  const auto name = [&](absl::string_view what) {
    return absl::StrCat(prefix, "_", what);
  };
  state.push_back(
      {name("inverse_gram"), {d + 1, d + 1}, std::move(v.inverse_gram)});
  state.push_back({name("gram"), {d + 1, d + 1}, std::move(v.gram)});
  state.push_back({name("moment"), {d + 1}, std::move(v.moment)});
  state.push_back({name("prior_center"), {d + 1}, std::move(v.prior_center)});
  state.push_back({name("prior"), {1}, {v.prior}});
}

// The inverse of ExportRls.
absl::StatusOr<RlsState> RestoreRls(const std::vector<NamedTensor>& state,
                                    absl::string_view prefix, uint32_t d,
                                    double ridge, double forgetting) {
  const auto get = [&](absl::string_view what,
                       const std::vector<uint32_t>& shape) {
    return Get(state, absl::StrCat(prefix, "_", what), shape);
  };
  using Values = absl::StatusOr<const std::vector<double>*>;
  Values inverse = get("inverse_gram", {d + 1, d + 1}),
         gram = get("gram", {d + 1, d + 1}), moment = get("moment", {d + 1}),
         center = get("prior_center", {d + 1}), prior = get("prior", {1});
  for (const auto* v : {&inverse, &gram, &moment, &center, &prior}) {
    if (!v->ok()) return v->status();
  }
  absl::StatusOr<RlsState> rls = RlsState::FromValues(
      d, ridge, forgetting,
      {**inverse, **gram, **moment, **center, (**prior)[0]});
  if (!rls.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("state ", prefix, "_inverse_gram, ", prefix, "_gram or ",
                     prefix, "_prior: ", rls.status().message()));
  }
  return rls;
}

}  // namespace

std::vector<NamedTensor> LinearModel::ExportState() const {
  const uint32_t k = outputs_, d = config_.num_features;
  std::vector<double> weights, bias, aux;
  weights.reserve(static_cast<size_t>(k) * d);
  for (uint32_t o = 0; o < k; ++o) {
    for (uint32_t j = 0; j < d; ++j)
      weights.push_back(dense_[DenseIndex(o, j)]);
    bias.push_back(dense_[DenseIndex(o, d)]);
    for (uint32_t j = 0; j <= d; ++j) {
      aux.push_back(dense_[plane_ + DenseIndex(o, j)]);
      aux.push_back(dense_[2 * plane_ + DenseIndex(o, j)]);
    }
  }
  std::vector<double> slots, sparse;
  const size_t per_slot = static_cast<size_t>(k) * kStride;
  for (size_t slot = 0; slot < table_.slots(); ++slot) {
    const double* t = table_.Find(slot);
    if (t != nullptr &&
        std::any_of(t, t + per_slot, [](double v) { return v != 0; })) {
      slots.push_back(static_cast<double>(slot));
      sparse.insert(sparse.end(), t, t + per_slot);
    }
  }
  const uint32_t n = slots.size();
  const ProgressiveMetrics::State m = metrics_.GetState();
  const uint32_t w = m.recent_loss.size();
  std::vector<double> drift = drift_.ExportState();
  const uint32_t drift_size = drift.size();
  std::vector<NamedTensor> state = {
      {"weights", {k, d}, std::move(weights)},
      {"bias", {k}, std::move(bias)},
      {"dense_optimizer_state", {k, d + 1, 2}, std::move(aux)},
      {"sparse_slots", {n}, std::move(slots)},
      {"sparse_state", {n, k, kStride}, std::move(sparse)},
      {"optimizer",
       {6},
       {steps_, norm_sum_, weight_sum_, beta1_t_, beta2_t_,
        static_cast<double>(skipped_updates_)}},
      {"label_range", {2}, {label_min_, label_max_}},
      {"feature_count", {1}, {static_cast<double>(feature_stats_.count())}},
      {"feature_mean", {d}, FromEigen(feature_stats_.mean())},
      {"feature_m2", {d}, FromEigen(feature_stats_.m2())},
      {"feature_inv_std", {d}, inv_std_},
      {"label_count", {1}, {static_cast<double>(label_stats_.count())}},
      {"label_mean", {1}, {label_stats_.mean()[0]}},
      {"label_m2", {1}, {label_stats_.m2()[0]}},
      {"metric_sums",
       {5},
       {static_cast<double>(m.count), m.loss_sum, m.correct_sum, m.abs_sum,
        m.sq_sum}},
      {"metric_recent_loss", {w}, m.recent_loss},
      {"metric_recent_correct", {w}, m.recent_correct},
      {"drift_state", {drift_size}, std::move(drift)},
  };
  if (Averages(config_)) {
    // The hashed accumulators of the current average that are not all
    // zeros; the others count as zeros.
    std::vector<double> avg_slots, avg_sparse;
    for (size_t slot = 0; slot < table_.slots(); ++slot) {
      const double* c = AveragedSlot(slot);
      if (c != nullptr &&
          std::any_of(c, c + k, [](double v) { return v != 0; })) {
        avg_slots.push_back(static_cast<double>(slot));
        avg_sparse.insert(avg_sparse.end(), c, c + k);
      }
    }
    const uint32_t na = avg_slots.size();
    std::vector<double> avg_dense;
    for (uint32_t o = 0; o < k; ++o) {
      for (uint32_t j = 0; j <= d; ++j) {
        avg_dense.push_back(avg_dense_[DenseIndex(o, j)]);
      }
    }
    state.push_back(
        {"averaging",
         {5},
         {avg_count_, avg_weight_, avg_start_, loss_live_, loss_avg_}});
    state.push_back({"averaging_dense", {k, d + 1}, std::move(avg_dense)});
    state.push_back({"averaging_slots", {na}, std::move(avg_slots)});
    state.push_back({"averaging_sparse", {na, k}, std::move(avg_sparse)});
  }
  if (!rls_.empty()) ExportRls(rls_, "rls", d, state);
  if (LeastSquaresCompanion::AppliesTo(config_)) {
    const LeastSquaresCompanion& ls = least_squares_;
    state.push_back(
        {"least_squares",
         {3},
         {ls.active() ? 1.0 : 0.0, ls.updates(), least_squares_loss_}});
    if (ls.active()) {
      LeastSquaresCompanion::Values v = ls.Export();
      state.push_back({"least_squares_weights", {d + 1}, std::move(v.weights)});
      state.push_back(
          {"least_squares_gram", {d + 1, d + 1}, std::move(v.gram)});
      state.push_back({"least_squares_moment", {d + 1}, std::move(v.moment)});
      state.push_back(
          {"least_squares_prior_center", {d + 1}, std::move(v.prior_center)});
    }
  }
  if (KalmanCompanion::AppliesTo(config_)) {
    state.push_back(
        {"kalman",
         {3},
         {kalman_.active() ? 1.0 : 0.0, kalman_.updates(), kalman_loss_}});
    if (kalman_.active()) {
      KalmanCompanion::Values v = kalman_.Export();
      state.push_back({"kalman_weights", {k, d + 1}, std::move(v.weights)});
      state.push_back(
          {"kalman_covariance", {k, d + 1, d + 1}, std::move(v.covariance)});
    }
  }
  return state;
}

absl::StatusOr<LinearModel> LinearModel::FromState(
    const ModelConfig& config, uint64_t version,
    const std::vector<NamedTensor>& state) {
  absl::StatusOr<LinearModel> model = Create(config);
  if (!model.ok()) return model.status();
  LinearModel& mo = *model;
  if (version > kMaxCount) {
    return absl::InvalidArgumentError(
        absl::StrCat("model_version ", version, " is over 2^53"));
  }
  const uint32_t k = mo.outputs_, d = mo.config_.num_features;
  using Values = absl::StatusOr<const std::vector<double>*>;
  const NamedTensor* slots_tensor = Find(state, "sparse_slots");
  const uint32_t n = slots_tensor == nullptr || slots_tensor->shape.size() != 1
                         ? 0
                         : slots_tensor->shape[0];
  if (n > mo.table_.slots()) {
    return absl::InvalidArgumentError(
        absl::StrCat("state sparse_slots has ", n, " entries, the model has ",
                     mo.table_.slots(), " slots"));
  }
  const NamedTensor* recent_loss = Find(state, "metric_recent_loss");
  const uint32_t w = recent_loss == nullptr || recent_loss->shape.size() != 1
                         ? 0
                         : recent_loss->shape[0];
  Values weights = Get(state, "weights", {k, d}),
         bias = Get(state, "bias", {k}),
         aux = Get(state, "dense_optimizer_state", {k, d + 1, 2}),
         slots = Get(state, "sparse_slots", {n}),
         sparse = Get(state, "sparse_state", {n, k, kStride}),
         opt = Get(state, "optimizer", {6}),
         range = Get(state, "label_range", {2}),
         fcount = Get(state, "feature_count", {1}),
         fmean = Get(state, "feature_mean", {d}),
         fm2 = Get(state, "feature_m2", {d}),
         inv_std = Get(state, "feature_inv_std", {d}),
         lcount = Get(state, "label_count", {1}),
         lmean = Get(state, "label_mean", {1}),
         lm2 = Get(state, "label_m2", {1}),
         sums = Get(state, "metric_sums", {5}),
         rloss = Get(state, "metric_recent_loss", {w}),
         rcorrect = Get(state, "metric_recent_correct", {w});
  for (const Values* v :
       {&weights, &bias, &aux, &slots, &sparse, &opt, &range, &fcount, &fmean,
        &fm2, &inv_std, &lcount, &lmean, &lm2, &sums, &rloss, &rcorrect}) {
    if (!v->ok()) return v->status();
  }

  // Ranges: what learning from valid examples can produce (means of inputs
  // within kMaxAbsValue, with slack for rounding; non-negative sums of
  // squares; whole counts), so a restored model keeps every sum finite.
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kMaxMean = 2 * kMaxAbsValue;
  const int non_negative = NonNegativeOptimizerValues(mo.config_.optimizer);
  for (size_t i = 0; i < (**aux).size(); ++i) {
    if (non_negative & (1 << (i % 2))) {
      RETURN_IF_ERROR(
          CheckValue("dense_optimizer_state", i, (**aux)[i], 0, kInf));
    }
  }
  for (size_t i = 0; i < (**sparse).size(); ++i) {
    const size_t field = i % kStride;  // 0: weight, 1: a, 2: b
    if (field > 0 && (non_negative & (1 << (field - 1)))) {
      RETURN_IF_ERROR(CheckValue("sparse_state", i, (**sparse)[i], 0, kInf));
    }
  }
  for (size_t i = 0; i < n; ++i) {
    RETURN_IF_ERROR(CheckValue("sparse_slots", i, (**slots)[i],
                               i == 0 ? 0 : (**slots)[i - 1] + 1,
                               mo.table_.slots() - 1.0, true));
  }
  const std::vector<double>& optv = **opt;
  RETURN_IF_ERROR(CheckValue("optimizer", 0, optv[0], 0, kMaxCount, true));
  RETURN_IF_ERROR(CheckValue("optimizer", 1, optv[1], 0, kInf));
  RETURN_IF_ERROR(CheckValue("optimizer", 2, optv[2], 0, kInf));
  RETURN_IF_ERROR(CheckValue("optimizer", 3, optv[3], 0, 1));
  RETURN_IF_ERROR(CheckValue("optimizer", 4, optv[4], 0, 1));
  RETURN_IF_ERROR(CheckValue("optimizer", 5, optv[5], 0, kMaxCount, true));
  RETURN_IF_ERROR(CheckValues("label_range", **range, -kMaxMean, kMaxMean));
  RETURN_IF_ERROR(CheckValues("feature_count", **fcount, 0, kMaxCount, true));
  RETURN_IF_ERROR(CheckValues("label_count", **lcount, 0, kMaxCount, true));
  RETURN_IF_ERROR(CheckValues("feature_mean", **fmean, -kMaxMean, kMaxMean));
  RETURN_IF_ERROR(CheckValues("label_mean", **lmean, -kMaxMean, kMaxMean));
  // A sum of squared deviations of n values within kMaxAbsValue is at most
  // n kMaxAbsValue^2 (four times that allows for rounding).
  const auto max_m2 = [](double count) {
    return 4 * std::max(count, 1.0) * kMaxAbsValue * kMaxAbsValue;
  };
  RETURN_IF_ERROR(CheckValues("feature_m2", **fm2, 0, max_m2((**fcount)[0])));
  RETURN_IF_ERROR(CheckValues("label_m2", **lm2, 0, max_m2((**lcount)[0])));
  // 1 / SafeStd: SafeStd is above 1e-12 (or 1).
  RETURN_IF_ERROR(CheckValues("feature_inv_std", **inv_std, 1e-300, 1e12));
  const std::vector<double>& m = **sums;
  RETURN_IF_ERROR(CheckValue("metric_sums", 0, m[0], 0, kMaxCount, true));
  RETURN_IF_ERROR(CheckValue("metric_sums", 2, m[2], 0, m[0]));
  RETURN_IF_ERROR(CheckValue("metric_sums", 3, m[3], 0, kInf));
  RETURN_IF_ERROR(CheckValue("metric_sums", 4, m[4], 0, kInf));
  RETURN_IF_ERROR(CheckValues("metric_recent_correct", **rcorrect, 0, 1));

  mo.version_ = version;
  for (size_t o = 0; o < k; ++o) {
    for (size_t j = 0; j < d; ++j) {
      mo.dense_[mo.DenseIndex(o, j)] = (**weights)[o * d + j];
    }
    mo.dense_[mo.DenseIndex(o, d)] = (**bias)[o];
    for (size_t j = 0; j <= d; ++j) {
      const size_t i = mo.DenseIndex(o, j);
      mo.dense_[mo.plane_ + i] = (**aux)[i * 2];
      mo.dense_[2 * mo.plane_ + i] = (**aux)[i * 2 + 1];
    }
  }
  const size_t per_slot = static_cast<size_t>(k) * kStride;
  for (size_t i = 0; i < n; ++i) {
    std::copy_n((**sparse).begin() + i * per_slot, per_slot,
                mo.table_.Mutable(static_cast<uint32_t>((**slots)[i])));
  }
  mo.steps_ = optv[0];
  mo.norm_sum_ = optv[1];
  mo.weight_sum_ = optv[2];
  mo.beta1_t_ = optv[3];
  mo.beta2_t_ = optv[4];
  mo.skipped_updates_ = static_cast<uint64_t>(optv[5]);
  mo.label_min_ = (**range)[0];
  mo.label_max_ = (**range)[1];
  mo.feature_stats_ = RunningStats::FromState(
      static_cast<int64_t>((**fcount)[0]), ToEigen(**fmean), ToEigen(**fm2));
  mo.inv_std_ = **inv_std;
  mo.label_stats_ = RunningStats::FromState(static_cast<int64_t>((**lcount)[0]),
                                            ToEigen(**lmean), ToEigen(**lm2));
  // Snapshots taken before drift detection existed have no drift_state: the
  // monitor starts afresh.
  if (const NamedTensor* drift = Find(state, "drift_state"); drift != nullptr) {
    if (absl::Status s = mo.drift_.Restore(drift->values); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("state drift_state: ", s.message()));
    }
  }
  // A snapshot of a model without averaging (or taken before it existed)
  // has no averaging tensors: the average starts at the restored weights.
  if (Averages(mo.config_) && Find(state, "averaging") != nullptr) {
    const NamedTensor* avg_slots_tensor = Find(state, "averaging_slots");
    const uint32_t na =
        avg_slots_tensor == nullptr || avg_slots_tensor->shape.size() != 1
            ? 0
            : avg_slots_tensor->shape[0];
    if (na > mo.table_.slots()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "state averaging_slots has ", na, " entries, the model has ",
          mo.table_.slots(), " slots"));
    }
    // c per output and slot; a snapshot written when slots kept a stamp has
    // it first in each row: the version that last wrote the slot, which must
    // be one of the current average.
    const NamedTensor* avg_sparse_tensor = Find(state, "averaging_sparse");
    const uint32_t stamps = avg_sparse_tensor != nullptr &&
                                    avg_sparse_tensor->shape.size() == 2 &&
                                    avg_sparse_tensor->shape[1] == k + 1
                                ? 1
                                : 0;
    const uint32_t row = k + stamps;
    Values avg = Get(state, "averaging", {5}),
           avg_dense = Get(state, "averaging_dense", {k, d + 1}),
           avg_slots = Get(state, "averaging_slots", {na}),
           avg_sparse = Get(state, "averaging_sparse", {na, row});
    for (const Values* v : {&avg, &avg_dense, &avg_slots, &avg_sparse}) {
      if (!v->ok()) return v->status();
    }
    const std::vector<double>& a = **avg;
    const double v = static_cast<double>(version);
    RETURN_IF_ERROR(CheckValue("averaging", 0, a[0], 0, kMaxCount, true));
    RETURN_IF_ERROR(CheckValue("averaging", 1, a[1], a[0], kInf));
    RETURN_IF_ERROR(CheckValue("averaging", 2, a[2], 0, v, true));
    RETURN_IF_ERROR(CheckValue("averaging", 3, a[3], 0, kInf));
    RETURN_IF_ERROR(CheckValue("averaging", 4, a[4], 0, kInf));
    for (size_t i = 0; i < na; ++i) {
      RETURN_IF_ERROR(CheckValue("averaging_slots", i, (**avg_slots)[i],
                                 i == 0 ? 0 : (**avg_slots)[i - 1] + 1,
                                 mo.table_.slots() - 1.0, true));
      if (stamps != 0) {
        RETURN_IF_ERROR(CheckValue("averaging_sparse", i * row,
                                   (**avg_sparse)[i * row], a[2] + 1, v, true));
      }
    }
    mo.avg_count_ = a[0];
    mo.avg_weight_ = a[1];
    mo.avg_start_ = a[2];
    mo.loss_live_ = a[3];
    mo.loss_avg_ = a[4];
    mo.avg_dense_ = **avg_dense;
    // Every accumulator not restored is zero: all count.
    mo.avg_block_start_.assign(mo.table_.blocks(), mo.avg_start_);
    for (size_t i = 0; i < na; ++i) {
      std::copy_n((**avg_sparse).begin() + i * row + stamps, k,
                  mo.table_.Mutable(static_cast<uint32_t>((**avg_slots)[i])) +
                      mo.AccumulatorOffset());
    }
  }
  if (!mo.rls_.empty()) {
    absl::StatusOr<RlsState> rls = RestoreRls(
        state, "rls", d, *mo.config_.rls_ridge, *mo.config_.rls_forgetting);
    if (!rls.ok()) return rls.status();
    mo.rls_ = *std::move(rls);
  }
  // A snapshot taken before the least-squares fit existed has no
  // least_squares: the fit starts afresh.
  if (mo.least_squares_.active() && Find(state, "least_squares") != nullptr) {
    Values ls = Get(state, "least_squares", {3});
    if (!ls.ok()) return ls.status();
    const std::vector<double>& l = **ls;
    RETURN_IF_ERROR(CheckValue("least_squares", 0, l[0], 0, 1, true));
    RETURN_IF_ERROR(CheckValue("least_squares", 1, l[1], 0, kMaxCount, true));
    RETURN_IF_ERROR(CheckValue("least_squares", 2, l[2], 0, kInf));
    mo.least_squares_loss_ = l[2];
    if (l[0] == 0) {
      mo.least_squares_.Retire();
    } else {
      Values weights = Get(state, "least_squares_weights", {d + 1}),
             gram = Get(state, "least_squares_gram", {d + 1, d + 1}),
             moment = Get(state, "least_squares_moment", {d + 1}),
             center = Get(state, "least_squares_prior_center", {d + 1});
      for (const Values* v : {&weights, &gram, &moment, &center}) {
        if (!v->ok()) return v->status();
      }
      absl::StatusOr<LeastSquaresCompanion> fit =
          LeastSquaresCompanion::FromValues(
              d, {**gram, **moment, **center, **weights, l[1]});
      if (!fit.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("state least_squares_gram: ", fit.status().message()));
      }
      mo.least_squares_ = *std::move(fit);
    }
  }
  // Likewise a snapshot taken before the Kalman filter existed.
  if (mo.kalman_.active() && Find(state, "kalman") != nullptr) {
    Values kf = Get(state, "kalman", {3});
    if (!kf.ok()) return kf.status();
    const std::vector<double>& l = **kf;
    RETURN_IF_ERROR(CheckValue("kalman", 0, l[0], 0, 1, true));
    RETURN_IF_ERROR(CheckValue("kalman", 1, l[1], 0, kMaxCount, true));
    RETURN_IF_ERROR(CheckValue("kalman", 2, l[2], 0, kInf));
    mo.kalman_loss_ = l[2];
    if (l[0] == 0) {
      mo.kalman_.Retire();
    } else {
      Values weights = Get(state, "kalman_weights", {k, d + 1}),
             covariance = Get(state, "kalman_covariance", {k, d + 1, d + 1});
      for (const Values* v : {&weights, &covariance}) {
        if (!v->ok()) return v->status();
      }
      absl::StatusOr<KalmanCompanion> filters =
          KalmanCompanion::FromValues(d, k, {**weights, **covariance, l[1]});
      if (!filters.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "state kalman_covariance: ", filters.status().message()));
      }
      mo.kalman_ = *std::move(filters);
    }
  }
  mo.metrics_ =
      ProgressiveMetrics::FromState({static_cast<uint64_t>(m[0]), m[1], m[2],
                                     m[3], m[4], **rloss, **rcorrect});
  return model;
}

}  // namespace streamfit
