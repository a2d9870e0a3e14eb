// The loss of each task as a function of the model's raw outputs (scores),
// with its gradient with respect to them.
#ifndef STREAMFIT_CORE_LOSS_H_
#define STREAMFIT_CORE_LOSS_H_

#include <Eigen/Core>

#include "core/model_config.h"

namespace streamfit {

// Regression: squared loss 0.5 (s - y)^2 on the single score s.
// Binary: logistic loss log(1 + e^s) - y s, s the logit, y in {0, 1}.
// Multiclass: softmax cross-entropy -log softmax(s)[y].
// `grad` receives d loss / d scores (same size as scores).
double LossAndGradient(Task task, const Eigen::VectorXd& scores, double label,
                       Eigen::VectorXd& grad);
double Loss(Task task, const Eigen::VectorXd& scores, double label);

// Numerically stable softmax of `scores` into `probs`.
void Softmax(const Eigen::VectorXd& scores, Eigen::VectorXd& probs);
// 1 / (1 + e^-s) without overflow.
double Sigmoid(double s);

}  // namespace streamfit

#endif  // STREAMFIT_CORE_LOSS_H_
