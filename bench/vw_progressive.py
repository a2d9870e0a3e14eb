#!/usr/bin/python3
"""Vowpal Wabbit's progressive metrics with its defaults, on streamfit's files.

For each labeled file as streamfit-quality reads it (NAME.reg.csv,
NAME.bin.csv, NAME.multiK.csv: label first; NAME.bin.svm: LIBSVM), writes
the rows in Vowpal Wabbit's text format, in order, and runs one pass of
`vw` with its defaults: squared loss for regression, `--loss_function
logistic` with labels -1/1 for binary, `--oaa K` (labels 1..K) for K
classes. Each prediction `vw -p` writes is made before its row is learned,
so the MSE or accuracy over them is the progressive metric
streamfit-quality reports for streamfit (every row, the first predicted
from zero weights, as there).

  /usr/bin/python3 bench/vw_progressive.py --vw=PATH/TO/vw FILE...

Vowpal Wabbit is not packaged for Debian 12; docs/LEARNING.md, "Against
Vowpal Wabbit", builds it from source.
"""
import argparse
import os
import subprocess
import tempfile


def read_rows(path):
    """(label, [(index, value)]) per row, in file order."""
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if path.endswith(".svm"):
                parts = line.split()
                features = [(int(i), float(v)) for i, v in
                            (p.split(":") for p in parts[1:])]
            else:
                parts = line.split(",")
                features = list(enumerate(float(v) for v in parts[1:]))
            rows.append((float(parts[0]), features))
    return rows


def task_of(path):
    kind = os.path.basename(path).split(".")[-2]
    if kind == "reg":
        return "reg", 0
    if kind == "bin":
        return "bin", 2
    return "multi", int(kind[len("multi"):])


def vw_label(task, label):
    if task == "reg":
        return f"{label:.10g}"
    if task == "bin":
        return "1" if label == 1 else "-1"
    return str(int(label) + 1)


def progressive(vw, path):
    task, classes = task_of(path)
    rows = read_rows(path)
    args = [vw, "--quiet"]
    if task == "bin":
        args += ["--loss_function", "logistic"]
    elif task == "multi":
        args += ["--oaa", str(classes)]
    with tempfile.TemporaryDirectory() as tmp:
        data, preds = os.path.join(tmp, "data.vw"), os.path.join(tmp, "p")
        with open(data, "w") as f:
            for label, features in rows:
                f.write(vw_label(task, label) + " |f " + " ".join(
                    f"{i}:{v:.10g}" for i, v in features) + "\n")
        subprocess.run(args + ["-d", data, "-p", preds], check=True)
        with open(preds) as f:
            predictions = [float(line.split()[0]) for line in f]
    scored = list(zip(predictions, rows))
    if task == "reg":
        return "MSE", sum((p - y) ** 2 for p, (y, _) in scored) / len(scored)
    if task == "bin":
        right = sum((p >= 0) == (y == 1) for p, (y, _) in scored)
    else:
        right = sum(int(p) == int(y) + 1 for p, (y, _) in scored)
    return "accuracy", right / len(scored)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vw", default="vw")
    parser.add_argument("files", nargs="+")
    flags = parser.parse_args()
    for path in flags.files:
        metric, value = progressive(flags.vw, path)
        print(f"{os.path.basename(path):24s} {metric:9s} {value:.6g}",
              flush=True)


if __name__ == "__main__":
    main()
