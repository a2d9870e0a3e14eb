"""What Predict with at_version costs: the rebuild of a past state.

A dense-10 regression model learns --rows synthetic samples through a real
streamfit-server that checkpoints every --checkpoint_every samples; then
`streamfit predict --at_version V` is timed for versions at growing
distances after a checkpoint (the samples the rebuild replays). Each figure
is the median of --runs calls of the CLI, process start included; the plain
Predict of the current version is the floor.

With --challenger, `streamfit challenger m add c --from_version V` is timed
instead, for V at growing distances before the current version (the samples
an adagrad challenger catches up); the floor is a plain add.

usage: /usr/bin/python3 bench/past_state.py --build_dir=build
       [--rows=2000000] [--checkpoint_every=1000000] [--runs=5] [--challenger]
"""

import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build_dir", default="build")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--checkpoint_every", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--challenger", action="store_true")
    args = parser.parse_args()
    source_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(source_dir, "tests", "interop"))
    import server_process  # pylint: disable=import-outside-toplevel

    cli = os.path.join(args.build_dir, "client", "streamfit")
    with tempfile.TemporaryDirectory(prefix="streamfit-past-") as work:
        rng = np.random.default_rng(1)
        x = rng.normal(size=(args.rows, 10)).astype(np.float32)
        y = x @ np.arange(1, 11) + rng.normal(scale=0.1, size=args.rows)
        data = os.path.join(work, "data.csv")
        np.savetxt(data, np.column_stack([y, x]), delimiter=",", fmt="%.6g")
        probe = os.path.join(work, "probe.csv")
        np.savetxt(probe, x[:1], delimiter=",", fmt="%.6g")
        data_dir = os.path.join(work, "server")
        server = server_process.ServerProcess(
            os.path.join(args.build_dir, "server", "streamfit-server"),
            data_dir, ["--default_model=",
                       f"--checkpoint_every_samples={args.checkpoint_every}",
                       "--checkpoint_interval_s=3600"])
        server.start()
        try:
            def run(*a):
                return subprocess.run(
                    [cli, *a, f"--server={server.address}", "--timeout=600s"],
                    check=True, capture_output=True, text=True)
            run("create", "m", "--task", "regression", "--features", "10")
            run("observe", "m", "--file", data)
            time.sleep(1)  # the checkpoint loop runs every 100 ms
            if args.challenger:
                time_challengers(run, args)
                return
            checkpoints = sorted(
                int(os.path.basename(p)[5:25]) for p in
                glob.glob(os.path.join(data_dir, "models", "m.*", "ckpt-*.ckpt")))
            base = checkpoints[-2] if len(checkpoints) > 1 else checkpoints[0]
            print(f"checkpoints at {checkpoints}; rebuilding after {base}")
            print("| samples replayed | at_version (s) | current version (s) |")
            print("| --- | --- | --- |")
            for replayed in (0, args.checkpoint_every // 4,
                             args.checkpoint_every // 2,
                             args.checkpoint_every - 1):
                times, floors = [], []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    run("predict", "m", "--file", probe, "--has_label=false",
                        "--at_version", str(base + replayed))
                    times.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    run("predict", "m", "--file", probe, "--has_label=false")
                    floors.append(time.perf_counter() - start)
                print(f"| {replayed:,} | {statistics.median(times):.3f} | "
                      f"{statistics.median(floors):.3f} |", flush=True)
        finally:
            server.stop()


def time_challengers(run, args):
    """Prints the table of challenger adds from earlier versions."""
    print("| samples caught up | add --from_version (s) | plain add (s) |")
    print("| --- | --- | --- |")
    for back in (10_000, args.checkpoint_every // 4,
                 args.checkpoint_every // 2, args.checkpoint_every):
        times, floors = [], []
        for _ in range(args.runs):
            for from_version, into in ((args.rows - back, times),
                                       (None, floors)):
                start = time.perf_counter()
                run("challenger", "m", "add", "c", "--optimizer", "adagrad",
                    *(["--from_version", str(from_version)]
                      if from_version is not None else []))
                into.append(time.perf_counter() - start)
                run("challenger", "m", "rm", "c")
        print(f"| {back:,} | {statistics.median(times):.3f} | "
              f"{statistics.median(floors):.3f} |", flush=True)


if __name__ == "__main__":
    main()
