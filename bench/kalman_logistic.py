#!/usr/bin/python3
"""Progressive accuracy of an extended Kalman filter for logistic regression.

A reference for the Kalman filter that auto keeps beside the rule
(core/model/kalman_companion.h; docs/LEARNING.md, "A second-order start for
classifiers"), served from the first row and without the learner's
moderated scores or its choice by recent loss: per class (one against the rest;
one filter for a binary stream), weights w with covariance P, prior N(0, I),
on features standardized by their running mean and deviation (this row
included, as the learner does) plus a bias. For a row z with label t:

    s = w . z,  p = sigmoid(s),  g = p (1 - p),  u = P z,  v = z . u
    w += u (t - p) / (1 + g v),   P -= (g / (1 + g v)) u u^T

(the Gaussian approximation of Bayesian online logistic regression,
Spiegelhalter & Lauritzen 1990). Each row is scored before it is learned.
It costs (k classes, d features) about k (d + 1)^2 multiply-adds per row and
k (d + 1)^2 values of state.

    /usr/bin/python3 bench/kalman_logistic.py FILE.bin.csv FILE.multiK.csv ...
"""

import re
import sys

import numpy as np


def progressive_accuracy(x, y, classes):
    n, d = x.shape
    filters = 1 if classes == 2 else classes
    w = np.zeros((filters, d + 1))
    p_cov = np.repeat(np.eye(d + 1)[None], filters, axis=0)
    mean, m2 = np.zeros(d), np.zeros(d)
    right = 0
    for i in range(n):
        # Welford, this row included.
        delta = x[i] - mean
        mean += delta / (i + 1)
        m2 += delta * (x[i] - mean)
        std = np.sqrt(m2 / (i + 1))
        z = np.append(np.where(std > 0, (x[i] - mean) / np.where(
            std > 0, std, 1), 0), 1.0)
        s = w @ z
        guess = int(s[0] >= 0) if filters == 1 else int(np.argmax(s))
        if i > 0:
            right += guess == int(y[i])
        for c in range(filters):
            t = float(y[i] == (1 if filters == 1 else c))
            p = 1 / (1 + np.exp(-s[c]))
            g = p * (1 - p)
            u = p_cov[c] @ z
            v = z @ u
            w[c] += u * (t - p) / (1 + g * v)
            p_cov[c] -= (g / (1 + g * v)) * np.outer(u, u)
    return right / (n - 1)


def main():
    print(f"{'dataset':24s} {'rows':>8s} {'accuracy':>9s}")
    for path in sys.argv[1:]:
        match = re.search(r"\.(bin|multi(\d+))\.csv$", path)
        if not match:
            sys.exit(f"{path}: name it NAME.bin.csv or NAME.multiK.csv")
        classes = 2 if match.group(1) == "bin" else int(match.group(2))
        data = np.loadtxt(path, delimiter=",", ndmin=2)
        accuracy = progressive_accuracy(data[:, 1:], data[:, 0], classes)
        print(f"{path.split('/')[-1]:24s} {len(data):8d} {accuracy:9.4f}")


if __name__ == "__main__":
    main()
