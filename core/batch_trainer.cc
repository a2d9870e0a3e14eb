#include "core/batch_trainer.h"

#include <LBFGS.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <exception>
#include <numeric>
#include <random>
#include <stdexcept>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/model/loss.h"
#include "core/status_macros.h"

namespace streamfit {
namespace {

// Examples in the model's input space (standardized when configured) and
// targets in its output space; importance weights sum to 1.
struct Data {
  // n x d, row-major: minibatches gather random rows.
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> z;
  Eigen::VectorXd targets;
  Eigen::VectorXd weights;
};

struct Params {
  Eigen::MatrixXd w;  // k x d
  Eigen::VectorXd b;
};

// A fit's problem: the data plus everything needed to build the model.
struct Problem {
  ModelConfig config;
  Data data;
  RunningStats feature_stats, label_stats;
  Params initial;
};

// log(1 + e^s), without overflow.
double Softplus(double s) {
  return std::max(s, 0.0) + std::log1p(std::exp(-std::abs(s)));
}

// The objective (weighted mean loss + l2/2 |W|^2) at x over `d`; fills
// `grad` when given.
double Objective(Task task, double l2, const Data& d, const Params& x,
                 Params* grad) {
  double total = 0.5 * l2 * x.w.squaredNorm();
  const Eigen::Index n = d.z.rows();
  if (x.w.rows() == 1) {  // regression and binary: vectorized
    const Eigen::VectorXd s = (d.z * x.w.row(0).transpose()).array() + x.b[0];
    Eigen::VectorXd g(n);
    if (task == Task::kRegression) {
      const Eigen::VectorXd r = s - d.targets;
      total += 0.5 * (d.weights.array() * r.array().square()).sum();
      g = d.weights.cwiseProduct(r);
    } else {
      for (Eigen::Index i = 0; i < n; ++i) {
        total += d.weights[i] * (Softplus(s[i]) - d.targets[i] * s[i]);
        g[i] = d.weights[i] * (Sigmoid(s[i]) - d.targets[i]);
      }
    }
    if (grad) {
      grad->w.noalias() = g.transpose() * d.z;
      grad->w += l2 * x.w;
      grad->b = Eigen::VectorXd::Constant(1, g.sum());
    }
    return total;
  }
  const Eigen::MatrixXd scores =
      (d.z * x.w.transpose()).rowwise() + x.b.transpose();  // n x k
  Eigen::VectorXd s, g;
  Eigen::MatrixXd g_rows(scores.rows(), scores.cols());
  for (Eigen::Index i = 0; i < n; ++i) {
    s = scores.row(i).transpose();
    total += d.weights[i] * LossAndGradient(task, s, d.targets[i], g);
    g_rows.row(i) = d.weights[i] * g.transpose();
  }
  if (grad) {
    grad->w.noalias() = g_rows.transpose() * d.z;
    grad->w += l2 * x.w;
    grad->b = g_rows.colwise().sum().transpose();
  }
  return total;
}

const NamedTensor* FindTensor(const std::vector<NamedTensor>& state,
                              absl::string_view name) {
  for (const NamedTensor& t : state) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// Reads the warm-start model's parameters and statistics from its exported
// state (the stable interface of LinearModel).
absl::Status ReadWarmStart(const LinearModel& model, Problem& p) {
  const std::vector<NamedTensor> state = model.ExportState();
  const int k = NumOutputs(p.config), d = p.config.num_features;
  auto get = [&](absl::string_view name,
                 size_t size) -> absl::StatusOr<const std::vector<double>*> {
    const NamedTensor* t = FindTensor(state, name);
    if (t == nullptr || t->values.size() != size) {
      return absl::InternalError(
          absl::StrCat("warm start: the model's state has no ", name));
    }
    return &t->values;
  };
  ASSIGN_OR_RETURN(const std::vector<double>* w, get("weights", k * d));
  ASSIGN_OR_RETURN(const std::vector<double>* b, get("bias", k));
  ASSIGN_OR_RETURN(const std::vector<double>* fc, get("feature_count", 1));
  ASSIGN_OR_RETURN(const std::vector<double>* fm, get("feature_mean", d));
  ASSIGN_OR_RETURN(const std::vector<double>* f2, get("feature_m2", d));
  ASSIGN_OR_RETURN(const std::vector<double>* lc, get("label_count", 1));
  ASSIGN_OR_RETURN(const std::vector<double>* lm, get("label_mean", 1));
  ASSIGN_OR_RETURN(const std::vector<double>* l2, get("label_m2", 1));
  p.initial.w =
      Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic,
                                     Eigen::RowMajor>>(w->data(), k, d);
  p.initial.b = Eigen::Map<const Eigen::VectorXd>(b->data(), k);
  p.feature_stats =
      RunningStats::FromState(static_cast<int64_t>((*fc)[0]),
                              Eigen::Map<const Eigen::VectorXd>(fm->data(), d),
                              Eigen::Map<const Eigen::VectorXd>(f2->data(), d));
  p.label_stats = RunningStats::FromState(
      static_cast<int64_t>((*lc)[0]), Eigen::VectorXd::Constant(1, (*lm)[0]),
      Eigen::VectorXd::Constant(1, (*l2)[0]));
  return absl::OkStatus();
}

absl::StatusOr<Problem> MakeProblem(const ModelConfig& config_in,
                                    const ExampleBatch& data,
                                    const FitOptions& options) {
  ASSIGN_OR_RETURN(const ModelConfig config, WithDefaults(config_in));
  RETURN_IF_ERROR(ValidateBatch(data, config));
  if (data.size() == 0) return absl::InvalidArgumentError("no examples");
  if (!(options.tolerance >= 0)) {
    return absl::InvalidArgumentError("tolerance must be >= 0");
  }
  const Eigen::Index n = data.size(), d = config.num_features,
                     k = NumOutputs(config);
  const bool regression = config.task == Task::kRegression;
  Problem p{config,
            {},
            RunningStats(d),
            RunningStats(1),
            {Eigen::MatrixXd::Zero(k, d), Eigen::VectorXd::Zero(k)}};
  if (options.warm_start != nullptr) {
    if (!(options.warm_start->config() == config)) {
      return absl::InvalidArgumentError(
          "warm start: the model's config differs from the fit's");
    }
    RETURN_IF_ERROR(ReadWarmStart(*options.warm_start, p));
  } else if (config.standardize) {
    for (Eigen::Index i = 0; i < n; ++i) {
      p.feature_stats.Add(data.row(i));
      if (regression) p.label_stats.Add(data.labels[i]);
    }
  }
  Data& out = p.data;
  out.z.resize(n, d);
  out.targets.resize(n);
  out.weights.resize(n);
  Eigen::VectorXd z;
  for (Eigen::Index i = 0; i < n; ++i) {
    if (config.standardize) {
      p.feature_stats.Standardize(data.row(i), z);
      out.z.row(i) = z.transpose();
    } else {
      for (Eigen::Index j = 0; j < d; ++j) out.z(i, j) = data.row(i)[j];
    }
    out.targets[i] = data.labels[i];
    if (config.standardize && regression) {
      out.targets[i] =
          (data.labels[i] - p.label_stats.mean()[0]) / p.label_stats.SafeStd(0);
    }
    out.weights[i] = data.weights[i];
  }
  const double weight_sum = out.weights.sum();
  if (weight_sum <= 0) {
    return absl::InvalidArgumentError("every example has weight 0");
  }
  out.weights /= weight_sum;
  return p;
}

bool IsCancelled(const FitOptions& options) {
  return options.cancelled != nullptr &&
         options.cancelled->load(std::memory_order_relaxed);
}

absl::Status CancelledError() {
  return absl::CancelledError("the fit was cancelled");
}

void Report(const FitOptions& options, int step, int max_steps, double f) {
  if (options.on_progress) options.on_progress({step, max_steps, f});
}

absl::StatusOr<Params> FullBatchGd(const Problem& p,
                                   const FitOptions& options) {
  const int max_iterations =
      options.max_iterations > 0 ? options.max_iterations : 2000;
  const Task task = p.config.task;
  const double l2 = *p.config.l2;
  Params x = p.initial, grad, trial;
  double f = Objective(task, l2, p.data, x, &grad);
  double step = 1.0;
  for (int it = 0; it < max_iterations; ++it) {
    if (IsCancelled(options)) return CancelledError();
    const double g2 = grad.w.squaredNorm() + grad.b.squaredNorm();
    if (std::sqrt(g2) < options.tolerance) break;
    // Armijo backtracking: f(x - t g) <= f(x) - t/2 |g|^2.
    step *= 2;
    double f_trial;
    for (;;) {
      trial.w = x.w - step * grad.w;
      trial.b = x.b - step * grad.b;
      f_trial = Objective(task, l2, p.data, trial, nullptr);
      if (f_trial <= f - 0.5 * step * g2 || step < 1e-12) break;
      step *= 0.5;
    }
    if (!(f_trial <= f)) break;  // no descent possible: converged
    x = trial;
    f = Objective(task, l2, p.data, x, &grad);
    Report(options, it + 1, max_iterations, f);
  }
  return x;
}

absl::StatusOr<Params> MinibatchSgd(const Problem& p,
                                    const FitOptions& options) {
  const int epochs = options.epochs > 0 ? options.epochs : 20;
  const Eigen::Index n = p.data.z.rows(), d = p.data.z.cols();
  const Eigen::Index batch = std::clamp<Eigen::Index>(options.batch_size, 1, n);
  const Task task = p.config.task;
  const double l2 = *p.config.l2;
  std::mt19937_64 rng(options.seed);
  std::vector<Eigen::Index> order(n);
  std::iota(order.begin(), order.end(), 0);
  Params x = p.initial, grad;
  Data mini;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    if (IsCancelled(options)) return CancelledError();
    // Fisher-Yates with a fixed generator: the same order on every platform.
    for (Eigen::Index i = n - 1; i > 0; --i) {
      std::swap(order[i], order[rng() % static_cast<uint64_t>(i + 1)]);
    }
    const double eta = options.learning_rate / (1.0 + epoch);
    for (Eigen::Index start = 0; start < n; start += batch) {
      const Eigen::Index m = std::min(batch, n - start);
      mini.z.resize(m, d);
      mini.targets.resize(m);
      mini.weights.resize(m);
      for (Eigen::Index r = 0; r < m; ++r) {
        const Eigen::Index i = order[start + r];
        mini.z.row(r) = p.data.z.row(i);
        mini.targets[r] = p.data.targets[i];
        mini.weights[r] = p.data.weights[i];
      }
      const double sum = mini.weights.sum();
      if (sum <= 0) continue;
      mini.weights /= sum;
      Objective(task, l2, mini, x, &grad);
      x.w -= eta * grad.w;
      x.b -= eta * grad.b;
    }
    Report(options, epoch + 1, epochs, Objective(task, l2, p.data, x, nullptr));
  }
  return x;
}

absl::StatusOr<Params> LeastSquares(const Problem& p,
                                    const FitOptions& options) {
  RETURN_IF_ERROR(CheckFitsTask(FitAlgorithm::kLeastSquares, p.config.task));
  const Eigen::Index n = p.data.z.rows(), d = p.data.z.cols();
  const double l2 = *p.config.l2;
  // Rows scaled by sqrt(weight): [z 1] theta ~ target.
  const Eigen::VectorXd sw = p.data.weights.cwiseSqrt();
  Eigen::MatrixXd a(n, d + 1);
  a.leftCols(d) = sw.asDiagonal() * p.data.z;
  a.col(d) = sw;
  const Eigen::VectorXd rhs = sw.cwiseProduct(p.data.targets);
  Eigen::VectorXd theta;
  if (l2 == 0) {
    theta = a.colPivHouseholderQr().solve(rhs);
  } else {
    Eigen::MatrixXd gram = a.transpose() * a;
    gram.diagonal().head(d).array() += l2;
    theta = gram.ldlt().solve(a.transpose() * rhs);
  }
  if (!theta.allFinite()) {
    return absl::InvalidArgumentError("least_squares: the system is singular");
  }
  Params x{theta.head(d).transpose(), theta.tail(1)};
  Report(options, 1, 1, Objective(Task::kRegression, l2, p.data, x, nullptr));
  return x;
}

absl::StatusOr<Params> Lbfgs(const Problem& p, const FitOptions& options) {
  const int max_iterations =
      options.max_iterations > 0 ? options.max_iterations : 500;
  const Eigen::Index k = p.initial.w.rows(), d = p.initial.w.cols();
  const Task task = p.config.task;
  const double l2 = *p.config.l2;
  // Thrown by the objective to stop the solver: on cancellation, or after
  // the objective itself failed (its exception is kept in `objective_error`
  // and rethrown to the caller, so the solver's own exceptions are never
  // confused with it).
  struct Stop {};
  std::exception_ptr objective_error;
  // x = [W column-major, b].
  auto unpack = [&](const Eigen::VectorXd& v) {
    return Params{Eigen::Map<const Eigen::MatrixXd>(v.data(), k, d), v.tail(k)};
  };
  Eigen::VectorXd best;
  double best_f = INFINITY;
  int evaluations = 0;
  auto fun = [&](const Eigen::VectorXd& v, Eigen::VectorXd& g) -> double {
    if (IsCancelled(options)) throw Stop{};
    try {
      Params grad;
      const double f = Objective(task, l2, p.data, unpack(v), &grad);
      g.resize(v.size());
      g.head(k * d) = Eigen::Map<const Eigen::VectorXd>(grad.w.data(), k * d);
      g.tail(k) = grad.b;
      if (f < best_f) {
        best_f = f;
        best = v;
      }
      Report(options, ++evaluations, max_iterations, f);
      return f;
    } catch (...) {
      objective_error = std::current_exception();
      throw Stop{};
    }
  };
  LBFGSpp::LBFGSParam<double> param;
  param.epsilon = options.tolerance;
  param.epsilon_rel = 0;
  param.max_iterations = max_iterations;
  Eigen::VectorXd v(k * d + k);
  v.head(k * d) = Eigen::Map<const Eigen::VectorXd>(p.initial.w.data(), k * d);
  v.tail(k) = p.initial.b;
  double fx;
  try {
    LBFGSpp::LBFGSSolver<double> solver(param);  // checks param
    solver.minimize(fun, v, fx);
  } catch (const Stop&) {
    // An exception from the objective (e.g. std::bad_alloc, or one thrown by
    // on_progress) is the caller's, not a result.
    if (objective_error) std::rethrow_exception(objective_error);
    return CancelledError();
  } catch (const std::invalid_argument& e) {
    // LBFGSpp rejects its parameters (e.g. a negative tolerance).
    return absl::InvalidArgumentError(absl::StrCat("lbfgs: ", e.what()));
  } catch (const std::runtime_error&) {
    // The line search gave up (step too small or too large, or out of
    // iterations), typically at the limit of floating-point precision: the
    // best point evaluated is the answer.
  } catch (const std::logic_error&) {
    // The search direction stopped descending, the same limit seen through
    // rounding errors in the gradient: the best point is the answer.
  }
  if (best.size() == 0) return p.initial;
  return unpack(best);
}

}  // namespace

absl::string_view FitAlgorithmName(FitAlgorithm algorithm) {
  switch (algorithm) {
    case FitAlgorithm::kMinibatchSgd:
      return "minibatch_sgd";
    case FitAlgorithm::kLeastSquares:
      return "least_squares";
    case FitAlgorithm::kLbfgs:
      return "lbfgs";
    default:
      return "full_batch_gd";
  }
}

absl::StatusOr<FitAlgorithm> ParseFitAlgorithm(absl::string_view name) {
  for (FitAlgorithm a :
       {FitAlgorithm::kFullBatchGd, FitAlgorithm::kMinibatchSgd,
        FitAlgorithm::kLeastSquares, FitAlgorithm::kLbfgs}) {
    if (name == FitAlgorithmName(a)) return a;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("algorithm must be full_batch_gd, minibatch_sgd, "
                   "least_squares or lbfgs, not '",
                   name, "'"));
}

absl::StatusOr<LinearModel> Fit(const ModelConfig& config,
                                const ExampleBatch& data,
                                const FitOptions& options) {
  ASSIGN_OR_RETURN(Problem p, MakeProblem(config, data, options));
  absl::StatusOr<Params> x;
  switch (options.algorithm) {
    case FitAlgorithm::kFullBatchGd:
      x = FullBatchGd(p, options);
      break;
    case FitAlgorithm::kMinibatchSgd:
      x = MinibatchSgd(p, options);
      break;
    case FitAlgorithm::kLeastSquares:
      x = LeastSquares(p, options);
      break;
    case FitAlgorithm::kLbfgs:
      x = Lbfgs(p, options);
      break;
  }
  if (!x.ok()) return x.status();
  return LinearModel::FromParameters(p.config, std::move(p.feature_stats),
                                     std::move(p.label_stats), std::move(x->w),
                                     std::move(x->b), data);
}

absl::Status CheckFitsTask(FitAlgorithm algorithm, Task task) {
  if (algorithm == FitAlgorithm::kLeastSquares && task != Task::kRegression) {
    return absl::InvalidArgumentError(
        "least_squares fits regression models only; use lbfgs");
  }
  return absl::OkStatus();
}

FitAlgorithm OptimumAlgorithm(Task task) {
  return task == Task::kRegression ? FitAlgorithm::kLeastSquares
                                   : FitAlgorithm::kLbfgs;
}

double PredictionLoss(Task task, const Prediction& pred, double label) {
  if (task == Task::kRegression) {
    return (pred.value - label) * (pred.value - label);
  }
  const double q = task == Task::kBinary
                       ? (label == 1 ? pred.value : 1 - pred.value)
                       : pred.scores[static_cast<size_t>(label)];
  return -std::log(std::max(q, 1e-300));
}

double MeanLoss(const LinearModel& model, const ExampleBatch& data) {
  double total = 0, weight_sum = 0;
  ScoreBuffers buffers;
  Prediction pred;
  const Task task = model.config().task;
  for (size_t i = 0; i < data.size(); ++i) {
    model.Predict(data.view(i), buffers, pred);
    const double w = data.weights[i];
    total += w * PredictionLoss(task, pred, data.labels[i]);
    weight_sum += w;
  }
  return weight_sum > 0 ? total / weight_sum : 0;
}

absl::StatusOr<LinearModel> FitFullBatchGd(const ModelConfig& config,
                                           const ExampleBatch& data,
                                           const FullBatchGdOptions& options) {
  FitOptions fit;
  fit.algorithm = FitAlgorithm::kFullBatchGd;
  fit.max_iterations = options.max_iterations;
  fit.tolerance = options.gradient_tolerance;
  if (options.on_iteration) {
    fit.on_progress = [&](const FitProgress& p) {
      options.on_iteration(p.step, p.objective);
    };
  }
  return Fit(config, data, fit);
}

}  // namespace streamfit
