"""The online-vs-batch gap of a default model at the end of each stream.

For each CSV (label first), a model with default settings learns the whole
file through a real streamfit-server (the `streamfit` CLI), then
`streamfit gap` compares, on the last --window samples, the progressive loss
of the online model with the batch optimum fitted on those samples.

usage: /usr/bin/python3 bench/batch_gap.py --build_dir=build [--window=N]
       FILE.{reg,bin,multiK}.csv ...
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build_dir", default="build")
    parser.add_argument("--window", type=int, default=10000)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    source_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(source_dir, "tests", "interop"))
    import server_process  # pylint: disable=import-outside-toplevel

    cli = os.path.join(args.build_dir, "client", "streamfit")
    print("| stream | rows | window | online loss | batch optimum | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="streamfit-gap-") as data_dir:
        server = server_process.ServerProcess(
            os.path.join(args.build_dir, "server", "streamfit-server"),
            data_dir, ["--default_model="])
        server.start()
        try:
            for path in args.files:
                run = lambda *a: subprocess.run(  # noqa: E731
                    [cli, *a, f"--server={server.address}", "--timeout=600s"],
                    check=True, capture_output=True, text=True).stdout
                name = re.sub(r"[^a-z0-9_]", "_",
                              os.path.basename(path).lower())[:60]
                kind = path.split(".")[-2]
                with open(path) as f:
                    width = len(f.readline().split(",")) - 1
                task = ["--task", "regression"]
                if kind == "bin":
                    task = ["--task", "binary"]
                elif kind.startswith("multi"):
                    task = ["--task", "multiclass", "--classes", kind[5:]]
                run("create", name, *task, "--features", str(width))
                run("observe", name, "--file", path)
                gap = json.loads(run("gap", name, "--window",
                                     str(args.window), "--json"))
                rows = int(gap["to_version"])
                window = rows - int(gap.get("from_version", 0))
                print(f"| {os.path.basename(path)} | {rows:,} | {window:,} | "
                      f"{gap['online_loss']:.4g} | {gap['batch_loss']:.4g} | "
                      f"{gap['ratio']:.3f} |", flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
