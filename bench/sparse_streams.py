#!/usr/bin/python3
"""Sparse binary streams beside bench/heldout_datasets.py's sparse.bin.

For choosing how sparse-only models learn without tuning to one stream:
three more streams of counts of words drawn with power-law frequencies
(heldout_datasets.sparse_logistic with other sizes and seeds), and one of
one-hot categorical fields with power-law value frequencies, as click logs
have. Labels are drawn with the probabilities of known weights. Written as
LIBSVM files (NAME.bin.svm) for streamfit-quality:

    /usr/bin/python3 bench/sparse_streams.py /tmp/sparse
    build/bench/streamfit-quality --files=$(ls -d /tmp/sparse/*.svm | paste -sd,)
"""

import os
import sys

import numpy as np
from scipy import sparse
from sklearn import datasets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from heldout_datasets import sparse_logistic  # noqa: E402


def one_hot_fields(rng, rows=100000,
                   cardinalities=(5, 10, 30, 100, 300, 1000, 3000, 10000,
                                  20, 50, 500, 5000)):
    """One value per field, values of a field with power-law frequencies."""
    columns, weights, offset = [], [], 0
    for c in cardinalities:
        frequency = 1 / (np.arange(c) + 3.0) ** 1.2
        columns.append(offset + rng.choice(c, size=rows,
                                           p=frequency / frequency.sum()))
        weights.append(rng.normal(scale=0.6, size=c))
        offset += c
    ids = np.stack(columns, axis=1)
    x = sparse.csr_matrix(
        (np.ones(ids.size), ids.ravel(),
         np.arange(0, ids.size + 1, len(cardinalities))),
        shape=(rows, offset))
    logit = x @ np.concatenate(weights) - 1.0
    return x, (rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))).astype(float)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out_dir, exist_ok=True)
    streams = {}
    for seed, rows, vocabulary, active in [(1, 50000, 20000, 20),
                                           (2, 100000, 100000, 50),
                                           (3, 30000, 5000, 10)]:
        streams[f"words{seed}"] = sparse_logistic(
            np.random.RandomState(seed), rows=rows, vocabulary=vocabulary,
            active=active)
    streams["fields"] = one_hot_fields(np.random.RandomState(7))
    for name, (x, y) in streams.items():
        datasets.dump_svmlight_file(x, y, f"{out_dir}/{name}.bin.svm",
                                    zero_based=False)
        print(f"{name}.bin.svm: {x.shape[0]} rows, {x.shape[1]} features, "
              f"{y.mean():.3f} positive")


if __name__ == "__main__":
    main()
