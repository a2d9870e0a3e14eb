// The loss of each task as a function of the model's raw outputs (scores),
// with its gradient with respect to them.
#ifndef STREAMFIT_CORE_MODEL_LOSS_H_
#define STREAMFIT_CORE_MODEL_LOSS_H_

#include <Eigen/Core>

#include "core/model/model_config.h"

namespace streamfit {

// Regression: squared loss 0.5 (s - y)^2 on the single score s.
// Binary: logistic loss log(1 + e^s) - y s, s the logit, y in {0, 1}.
// Multiclass: softmax cross-entropy -log softmax(s)[y].
// `grad` receives d loss / d scores (same size as scores).
double LossAndGradient(Task task, const Eigen::VectorXd& scores, double label,
                       Eigen::VectorXd& grad);
double Loss(Task task, const Eigen::VectorXd& scores, double label);

// The loss of a configured model, on raw scores `s` (NumOutputs of them):
//   squared   0.5 (s - y)^2
//   huber     0.5 r^2 if |r| <= delta, else delta (|r| - delta / 2); r = s - y
//   quantile  tau r if r >= 0 else (tau - 1) r;  r = y - s (pinball loss)
//   poisson   e^s - y s  (s is the log of the rate; y >= 0)
//   logistic  log(1 + e^s) - y s;  y in {0, 1}
//   hinge     max(0, 1 - t s);  t = 2y - 1
//   softmax   -log softmax(s)[y]
// `grad` receives d loss / d s (as many values as s). Where the loss has a
// kink (huber never, quantile and hinge at it) the gradient is one-sided.
struct LossSpec {
  LossKind kind = LossKind::kSquared;
  double huber_delta = 1;
  double quantile_tau = 0.5;
};
LossSpec LossSpecOf(const ModelConfig& config);
double LossAndGradient(const LossSpec& spec, const double* s, int num_outputs,
                       double label, double* grad);
double LossValue(const LossSpec& spec, const double* s, int num_outputs,
                 double label);

// Numerically stable softmax of `scores` into `probs`.
void Softmax(const Eigen::VectorXd& scores, Eigen::VectorXd& probs);
// 1 / (1 + e^-s) without overflow.
double Sigmoid(double s);

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_LOSS_H_
