#!/usr/bin/python3
"""streamfit-quality on LIBSVM files: learns hashed index features.

Writes a sparse stream whose label is whether feature 7 is present among
random others, checks that streamfit-quality learns it (progressive accuracy
above 0.9 over 2,000 rows: a model that ignored the features would score
about 0.5), and that a malformed row fails naming its line.

  quality_libsvm_test.py PATH/TO/streamfit-quality
"""
import os
import random
import re
import subprocess
import sys
import tempfile


def main():
    quality = sys.argv[1]
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        good = os.path.join(tmp, "marker.bin.svm")
        with open(good, "w") as out:
            for _ in range(2000):
                indices = set(rng.sample(range(1, 500), 10))
                label = rng.random() < 0.5
                indices.discard(7)
                if label:
                    indices.add(7)
                out.write(f"{int(label)} " + " ".join(
                    f"{i}:1" for i in sorted(indices)) + "\n")
        run = subprocess.run([quality, f"--files={good}"], capture_output=True,
                             text=True, timeout=60, check=True)
        match = re.search(r"marker\.bin\.svm\s+accuracy\s+([0-9.]+)",
                          run.stdout)
        assert match, run.stdout
        accuracy = float(match.group(1))
        assert accuracy > 0.9, f"accuracy {accuracy}"

        bad = os.path.join(tmp, "bad.bin.svm")
        with open(bad, "w") as out:
            out.write("1 3:1 5:1\n0 4:nan\n")
        run = subprocess.run([quality, f"--files={bad}"], capture_output=True,
                             text=True, timeout=60)
        assert run.returncode != 0, run.stdout
        assert "bad.bin.svm: line 2:" in run.stderr, run.stderr
    print(f"ok: accuracy {accuracy}")


if __name__ == "__main__":
    main()
