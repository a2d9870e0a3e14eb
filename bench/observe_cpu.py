#!/usr/bin/python3
"""Where the CPU goes while streamfit-bench runs an Observe load.

Runs one `streamfit-bench --mode=observe-... --runs=1` (the no-op server's
run, then streamfit's) and reads the CPU time of the benchmark process and of
each of its threads (by name: streamfit's own are sf-learner, sf-log-sync,
...) from /proc at the start, when the no-op run's line appears and when
streamfit's does. Prints CPU seconds, cores in use and CPU microseconds per
message for each phase, and streamfit's phase per thread name. Threads that
end during a phase are in the process total only. The load generator runs in
the same process, so the totals include it.

  bench/observe_cpu.py build/bench/streamfit-bench --mode=observe-stream \\
      --batch=64 --messages=40000 --fsync=always

With --floor=build/bench/streamfit-learn-speed first, it then runs that
binary's hand-fused floor of the default rule on the same shape and task
(RuleFloor/dense10_regression/normalized, median of 3) and prints the
learner thread's CPU per sample against it.
"""
import collections
import json
import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(stat_path):
    with open(stat_path) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def sample(pid):
    """(process CPU s, Counter of CPU s per thread name, wall time)."""
    threads = collections.Counter()
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            threads[(tid, name)] += cpu_seconds(f"/proc/{pid}/task/{tid}/stat")
        except OSError:
            pass  # the thread ended meanwhile
    return cpu_seconds(f"/proc/{pid}/stat"), threads, time.time()


def main():
    args = sys.argv[1:]
    floor = None
    if args and args[0].startswith("--floor="):
        floor = args.pop(0).split("=", 1)[1]
    batch = next((int(a.split("=")[1]) for a in args
                  if a.startswith("--batch=")), 0)
    messages = next((int(a.split("=")[1]) for a in args
                     if a.startswith("--messages=")), 0)
    proc = subprocess.Popen(["stdbuf", "-oL"] + args + ["--runs=1"],
                            stdout=subprocess.PIPE, text=True)
    marks = [sample(proc.pid)]
    for line in proc.stdout:
        print(line, end="")
        if "run 1:" in line and len(marks) < 3:
            marks.append(sample(proc.pid))
    proc.wait()
    if len(marks) < 3:
        sys.exit("did not see both runs' lines")
    for name, (a, b) in (("no-op (with start-up)", marks[0:2]),
                         ("streamfit", marks[1:3])):
        cpu, wall = b[0] - a[0], b[2] - a[2]
        per_message = f", {1e6 * cpu / messages:.1f} us/message" if messages else ""
        print(f"{name}: {cpu:.2f} CPU s in {wall:.2f} s "
              f"({cpu / wall:.2f} cores){per_message}")
    by_name = collections.Counter()
    for key, seconds in marks[2][1].items():
        by_name[key[1]] += seconds - marks[1][1].get(key, 0)
    for name, seconds in by_name.most_common():
        if seconds > 0:
            per_message = f"  {1e6 * seconds / messages:6.1f} us/message" if messages else ""
            print(f"  {name:16s} {seconds:6.2f} s{per_message}")
    if floor and messages and batch:
        floor_ns = floor_median_ns(floor)
        if by_name["sf-learner"] <= 0:
            print(f"floor {floor_ns:.1f} ns/sample; sf-learner ended before "
                  "the last reading (run again)")
            return
        learner_ns = 1e9 * by_name["sf-learner"] / (messages * batch)
        print(f"sf-learner {learner_ns:.1f} ns/sample, floor "
              f"{floor_ns:.1f} ns/sample: {learner_ns / floor_ns:.2f}x")


def floor_median_ns(binary):
    """Median CPU ns of RuleFloor/dense10_regression/normalized over 3 runs."""
    out = subprocess.run(
        [binary, "--benchmark_filter=^RuleFloor/dense10_regression/normalized$",
         "--benchmark_repetitions=3", "--benchmark_format=json"],
        check=True, capture_output=True, text=True).stdout
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            return b["cpu_time"]
    sys.exit("no median in the floor benchmark's output")


if __name__ == "__main__":
    main()
