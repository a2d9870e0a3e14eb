#!/usr/bin/python3
"""Writes held-out quality datasets and scikit-learn's progressive baselines.

Datasets other than the three in tests/data, to check that streamfit's
defaults were not tuned to those: scikit-learn's bundled iris, wine and
linnerud, and synthetic sets (features over six orders of magnitude, five
classes, a 95/5 class imbalance, a large-scale regression target, Friedman's
nonlinear target, a long linear one: 200,000 rows of ten unscaled
features with noise of variance 0.01, a long logistic one: 200,000
labels drawn with the probabilities of known weights on ten unscaled
features, and a long sparse one: 100,000 such labels on 30 draws from a
50,000-word vocabulary). Each is written as
OUT_DIR/NAME.{reg,bin,multiK}.csv (label first, rows in a fixed shuffled
order), the sparse one as OUT_DIR/sparse.bin.svm (LIBSVM: label, then
index:count), and measured the way docs/LEARNING.md ("Quality") measures
scikit-learn: each row predicted, then learned (partial_fit), with default
SGDRegressor / SGDClassifier(log_loss), alone and behind an online
StandardScaler; and beside them the batch optimum, a linear (or
standardized logistic) regression fitted on all rows and scored by 5-fold
cross-validation, and the batch leader: that same fit refitted on the rows
before each row and scored on it, the progressive loss of the batch method
itself. Cross-validation scores fits of 80 % of the rows; a progressive loss
also pays for the learning curve, which the leader measures. The three
datasets in tests/data are measured too (not written again).

  apt-get install python3-sklearn   # only for this script
  /usr/bin/python3 bench/heldout_datasets.py /tmp/heldout
  build/bench/streamfit-quality --files=$(ls -d /tmp/heldout/*.* | paste -sd,)
"""
import os
import sys
import warnings

import numpy as np
from scipy import sparse
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
    x, y = sparse_logistic(rng)
    datasets.dump_svmlight_file(x, y, f"{out_dir}/sparse.bin.svm",
                                zero_based=False)
    sets["sparse.bin"] = (x, y)
    return sets


def sparse_logistic(rng, rows=100000, vocabulary=50000, active=30):
    """Labels drawn with the probabilities of known weights on sparse counts.

    Each row counts `active` draws from a vocabulary whose frequencies fall
    as a power of the rank, as words and categorical values do; the weights
    are normal with standard deviation 0.5.
    """
    frequency = 1 / (np.arange(vocabulary) + 10.0) ** 1.1
    ids = rng.choice(vocabulary, size=(rows, active),
                     p=frequency / frequency.sum())
    x = sparse.csr_matrix((np.ones(ids.size), ids.ravel(),
                           np.arange(0, ids.size + 1, active)),
                          shape=(rows, vocabulary))
    x.sum_duplicates()
    logit = x @ rng.normal(scale=0.5, size=vocabulary) - 0.5
    return x, (rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))).astype(float)


def batch_optimum(name, x, y):
    if name.endswith(".reg"):
        scores = cross_val_score(LinearRegression(), x, y, cv=5,
                                 scoring="neg_mean_squared_error")
        return -np.mean(scores)
    return np.mean(cross_val_score(logistic(x), x, y, cv=5,
                                   scoring="accuracy"))


def logistic(x):
    """Logistic regression, on standardized features if they are dense."""
    if sparse.issparse(x):
        return LogisticRegression(max_iter=2000, warm_start=True)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def batch_fit(name, x, y, last=None):
    """The batch fit of x, y; a sparse logistic fit starts from `last`."""
    if name.endswith(".reg"):
        return LinearRegression().fit(x, y)
    if len(np.unique(y)) < 2:
        return None
    if sparse.issparse(x) and last is not None:
        return last.fit(x, y)
    return logistic(x).fit(x, y)


def batch_leader(name, x, y):
    """Progressive loss of the batch fit of the rows before each row.

    Refitted before every row while there are fewer than 200, then whenever
    the rows have grown by 2 % since the last fit (a fit on 98 % of the rows
    before a row predicts it as well as one on all of them).
    """
    regression = name.endswith(".reg")
    scores = []
    model, next_fit = None, 1
    for i in range(1, len(y)):
        if i >= next_fit:
            model = batch_fit(name, x[:i], y[:i], model)
            next_fit = i + 1 if i < 200 else i + i // 50
        if model is None:
            p = y[0]
        else:
            p = model.predict(x[i:i + 1])[0]
        scores.append((p - y[i]) ** 2 if regression else float(p == y[i]))
    return np.mean(scores)


def progressive(name, x, y, scale):
    regression = name.endswith(".reg")
    model = SGDRegressor() if regression else SGDClassifier(loss="log_loss")
    classes = np.unique(y)
    scaler = StandardScaler(with_mean=not sparse.issparse(x))
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
          f" {'batch (CV)':>12s} {'batch leader':>12s}")
    sets = make(out_dir)
    tests_data = os.path.join(os.path.dirname(__file__), "..", "tests", "data")
    for csv in sorted(os.listdir(tests_data)):
        data = np.loadtxt(os.path.join(tests_data, csv), delimiter=",")
        sets[csv[:-len(".csv")]] = (data[:, 1:], data[:, 0])
    for name, (x, y) in sets.items():
        metric = "MSE" if name.endswith(".reg") else "accuracy"
        file = name + (".svm" if sparse.issparse(x) else ".csv")
        print(f"{file:20s} {metric:9s} "
              f"{progressive(name, x, y, False):12.4g} "
              f"{progressive(name, x, y, True):12.4g} "
              f"{batch_optimum(name, x, y):12.4g} "
              f"{batch_leader(name, x, y):12.4g}", flush=True)


if __name__ == "__main__":
    main()
