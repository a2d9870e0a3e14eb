#!/usr/bin/python3
"""Writes held-out quality datasets and scikit-learn's progressive baselines.

Datasets other than the three in tests/data, to check that streamfit's
defaults were not tuned to those: scikit-learn's bundled iris, wine and
linnerud, and synthetic sets (features over six orders of magnitude, five
classes, a 95/5 class imbalance, a large-scale regression target, Friedman's
nonlinear target, a long linear one: 200,000 rows of ten unscaled
features with noise of variance 0.01, and a long logistic one: 200,000
labels drawn with the probabilities of known weights on ten unscaled
features). Each is written as
OUT_DIR/NAME.{reg,bin,multiK}.csv (label first, rows in a fixed shuffled
order), and measured the way docs/LEARNING.md ("Quality") measures
scikit-learn: each row predicted, then learned (partial_fit), with default
SGDRegressor / SGDClassifier(log_loss), alone and behind an online
StandardScaler; and beside them the batch optimum, a linear (or
standardized logistic) regression fitted on all rows and scored by 5-fold
cross-validation.

  apt-get install python3-sklearn   # only for this script
  /usr/bin/python3 bench/heldout_datasets.py /tmp/heldout
  build/bench/streamfit-quality --files=$(ls -d /tmp/heldout/*.csv | paste -sd,)
"""
import sys
import warnings

import numpy as np
from sklearn import datasets
from sklearn.linear_model import (LinearRegression, LogisticRegression,
                                  SGDClassifier, SGDRegressor)
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def make(out_dir):
    rng = np.random.RandomState(0)
    sets = {}

    def add(name, x, y):
        order = rng.permutation(len(y))
        x, y = x[order], y[order]
        np.savetxt(f"{out_dir}/{name}.csv", np.column_stack([y, x]),
                   delimiter=",", fmt="%.10g")
        sets[name] = (x, y)

    add("iris.multi3", *datasets.load_iris(return_X_y=True))
    add("wine.multi3", *datasets.load_wine(return_X_y=True))
    x, y = datasets.load_linnerud(return_X_y=True)
    add("linnerud.reg", x, y[:, 0])
    x, y = datasets.make_classification(5000, 20, n_informative=10,
                                        flip_y=0.05, random_state=0)
    add("synth.bin", x * np.logspace(-3, 3, 20), y)
    add("synth5.multi5", *datasets.make_classification(
        5000, 20, n_informative=10, n_classes=5, random_state=1))
    add("imbal.bin", *datasets.make_classification(
        5000, 20, n_informative=8, weights=[0.95, 0.05], random_state=2))
    x, y = datasets.make_regression(5000, 20, n_informative=12, noise=10,
                                    random_state=3)
    add("synth.reg", x * np.logspace(-2, 2, 20), y * 100 + 5000)
    add("friedman.reg", *datasets.make_friedman1(5000, 10, noise=1,
                                                 random_state=4))
    x = rng.normal(size=(200000, 10)) * np.logspace(-2, 3, 10) + np.arange(10)
    y = x @ (rng.normal(size=10) / np.logspace(-2, 3, 10)) + 3
    add("linear10.reg", x, y + rng.normal(scale=0.1, size=len(y)))
    x = rng.normal(size=(200000, 10)) * np.logspace(-1, 2, 10)
    logit = x @ (rng.normal(size=10) / np.logspace(-1, 2, 10)) + 0.5
    add("logistic10.bin", x, (rng.uniform(size=len(logit)) <
                              1 / (1 + np.exp(-logit))).astype(float))
    return sets


def batch_optimum(name, x, y):
    if name.endswith(".reg"):
        scores = cross_val_score(LinearRegression(), x, y, cv=5,
                                 scoring="neg_mean_squared_error")
        return -np.mean(scores)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return np.mean(cross_val_score(model, x, y, cv=5, scoring="accuracy"))


def progressive(name, x, y, scale):
    regression = name.endswith(".reg")
    model = SGDRegressor() if regression else SGDClassifier(loss="log_loss")
    classes = np.unique(y)
    scaler = StandardScaler()
    scores = []
    for i in range(len(y)):
        row = x[i:i + 1]
        if scale:
            scaler.partial_fit(row)
            row = scaler.transform(row)
        if i > 0:
            p = model.predict(row)[0]
            scores.append((p - y[i]) ** 2 if regression else float(p == y[i]))
        if regression:
            model.partial_fit(row, y[i:i + 1])
        else:
            model.partial_fit(row, y[i:i + 1], classes=classes)
    return np.mean(scores)


def main():
    warnings.filterwarnings("ignore")
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
    print(f"{'dataset':20s} {'metric':9s} {'sklearn':>12s} {'sk+scaler':>12s}"
          f" {'batch (CV)':>12s}")
    for name, (x, y) in make(out_dir).items():
        metric = "MSE" if name.endswith(".reg") else "accuracy"
        print(f"{name + '.csv':20s} {metric:9s} "
              f"{progressive(name, x, y, False):12.4g} "
              f"{progressive(name, x, y, True):12.4g} "
              f"{batch_optimum(name, x, y):12.4g}", flush=True)


if __name__ == "__main__":
    main()
