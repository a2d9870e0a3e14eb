#!/usr/bin/python3
"""How far the batch leader is from cross-validation at each regularization.

For a classification stream (CSV: label first, as in tests/data), and for
each inverse regularization strength C given, prints the batch optimum
(standardized logistic regression, 5-fold cross-validated accuracy) and the
batch leader (the same fit refitted on the rows before each row and scored
on it: the progressive accuracy of the batch method itself), as
bench/heldout_datasets.py measures them at scikit-learn's default C = 1.
The best leader over the C given, chosen in hindsight, bounds what tuning
the batch method's regularization could do for a learner that may only look
back.

  apt-get install python3-sklearn   # only for this script
  /usr/bin/python3 bench/leader_regularization.py tests/data/digits.multi10.csv \
      0.03 0.1 0.3 1 3 [--every_row]

Without --every_row the leader is refitted before every row while there are
fewer than 200, then whenever the rows have grown by 2 % (as
heldout_datasets.py does); with it, before every row.
"""
import sys
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def logistic(c):
    return make_pipeline(StandardScaler(),
                         LogisticRegression(C=c, max_iter=2000))


def leader_accuracy(x, y, c, every_row):
    right = []
    model, next_fit = None, 1
    for i in range(1, len(y)):
        if i >= next_fit and len(np.unique(y[:i])) >= 2:
            model = logistic(c).fit(x[:i], y[:i])
            next_fit = i + 1 if every_row or i < 200 else i + i // 50
        p = y[0] if model is None else model.predict(x[i:i + 1])[0]
        right.append(p == y[i])
    return np.mean(right)


def main():
    warnings.filterwarnings("ignore")
    args = [a for a in sys.argv[1:] if a != "--every_row"]
    every_row = len(args) < len(sys.argv) - 1
    data = np.loadtxt(args[0], delimiter=",")
    x, y = data[:, 1:], data[:, 0]
    print(f"{'C':>6s} {'batch (CV)':>10s} {'leader':>8s}")
    for c in map(float, args[1:]):
        cv = np.mean(cross_val_score(logistic(c), x, y, cv=5,
                                     scoring="accuracy"))
        print(f"{c:6g} {cv:10.4f} {leader_accuracy(x, y, c, every_row):8.4f}",
              flush=True)


if __name__ == "__main__":
    main()
