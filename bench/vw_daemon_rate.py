#!/usr/bin/python3
"""Vowpal Wabbit's daemon rate on streamfit-bench's Observe shapes.

Starts `vw --daemon --foreground --num_children 1` on a loopback port (and
ends it, and the child it forks, by its PID), sends N labeled examples over one connection as fast as it takes them
while a second thread counts the predictions it returns, and reports
examples per second from the first byte sent to the last prediction read:
one stream learning flat out, as `streamfit-bench --mode=observe-stream`
measures streamfit and the no-op server. The examples have the shapes
streamfit-bench sends (bench/streamfit_bench/load.cc), labeled for
regression as there (squared loss, VW's default), `--bit_precision 18`:

  dense   10 features ~ N(0, 1), label sum_j (j + 1) x_j + N(0, 0.1) noise
  named   30 features of value 1 named f<uniform 32-bit integer>, 15 in
          namespace a and 15 in b, label sum 0.1 (integer % 7) - 0.3 + noise;
          --quadratic adds VW's -q ab (streamfit's interactions a x b)

  /usr/bin/python3 bench/vw_daemon_rate.py --vw=/tmp/vw/install/bin/vw \\
      --shape=named [--quadratic] --examples=200000 --runs=5

Vowpal Wabbit is not packaged for Debian 12; docs/LEARNING.md, "Against
Vowpal Wabbit", builds it from source.
"""
import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import threading
import time


def example_lines(shape, n):
    rng = random.Random(42)
    lines = []
    for _ in range(n):
        if shape == "dense":
            x = [rng.gauss(0, 1) for _ in range(10)]
            y = sum((j + 1) * v for j, v in enumerate(x))
            features = "|f " + " ".join(f"{j}:{v:.7g}" for j, v in
                                        enumerate(x))
        else:
            indices = [rng.getrandbits(32) for _ in range(30)]
            y = sum(0.1 * (i % 7) - 0.3 for i in indices)
            features = ("|a " + " ".join(f"f{i}" for i in indices[:15]) +
                        " |b " + " ".join(f"f{i}" for i in indices[15:]))
        y += rng.gauss(0, 0.1)
        lines.append(f"{y:.7g} {features}\n")
    return "".join(lines).encode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(port, deadline_s=30):
    for _ in range(int(deadline_s / 0.05)):
        try:
            return socket.create_connection(("127.0.0.1", port))
        except ConnectionRefusedError:
            time.sleep(0.05)
    raise RuntimeError(f"vw did not listen on port {port}")


def one_run(port, payload, n):
    conn = connect(port)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def read_predictions():
        seen = 0
        while seen < n:
            chunk = conn.recv(1 << 20)
            if not chunk:
                break
            seen += chunk.count(b"\n")

    reader = threading.Thread(target=read_predictions)
    start = time.perf_counter()
    reader.start()
    conn.sendall(payload)
    reader.join()
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vw", default="vw")
    parser.add_argument("--shape", choices=["dense", "named"],
                        default="named")
    parser.add_argument("--quadratic", action="store_true")
    parser.add_argument("--examples", type=int, default=200000)
    parser.add_argument("--runs", type=int, default=5)
    flags = parser.parse_args()
    payload = example_lines(flags.shape, flags.examples)
    port = free_port()
    # One child, which forks from the daemon and learns every connection
    # into the same model; the daemon leads a session of its own, so its
    # PID ends both.
    args = [flags.vw, "--daemon", "--foreground", "--num_children", "1",
            "--port", str(port), "--quiet", "--bit_precision", "18"]
    if flags.quadratic:
        args += ["-q", "ab"]
    vw = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                          start_new_session=True)
    try:
        rates = [one_run(port, payload, flags.examples)
                 for _ in range(flags.runs)]
    finally:
        os.killpg(vw.pid, signal.SIGKILL)
        vw.wait()
    print(f"vw daemon, {flags.shape}{' -q ab' if flags.quadratic else ''}: "
          + ", ".join(f"{r:,.0f}" for r in rates)
          + f" examples/s; median {statistics.median(rates):,.0f}")


if __name__ == "__main__":
    main()
