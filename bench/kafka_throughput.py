#!/usr/bin/python3
"""Observe throughput in Kafka mode against the embedded sample log, and the
lag of a second replica.

Each repetition runs the same client load (--streams ObserveStreams, each
with --window requests of --batch examples in flight, --features dense
features, for --seconds) against one streamfit-server in each setting:

  embedded/always   the embedded sample log, --fsync=always (the default)
  embedded/never    the embedded sample log, --fsync=never
  kafka/1 broker    Kafka mode on a one-broker mock cluster
  kafka/3 brokers   Kafka mode on streamfit-kafka-mock (three brokers)
  kafka/3+follower  as kafka/3 brokers, with a second replica reading the
                    same topic; the first takes the whole load

and prints samples/s acknowledged (counted between 1 s after the start and
the end of the load), the ratio of each setting to embedded/always of the
same repetition, and for the follower its lag: records waiting
(ModelInfo.kafka end_offset - next_offset), ModelInfo.kafka.lag_seconds and
the samples it is behind the first replica's newest ack, sampled every
--lag_interval_s through GetModel, then the time it needs to reach the first
replica's final version once the load stops. Medians over --runs
repetitions follow.

The clusters are librdkafka's mock cluster: brokers in one process, holding
the topics in memory, on loopback ports. streamfit-kafka-mock has three
brokers; the one-broker cluster is the same mock code, created by this
script in a child process through librdkafka's C API (ctypes). Neither
writes to disk nor replicates over a network, so the figures bound what
streamfit adds in Kafka mode; a real cluster adds its own latency. The
replicas run with --kafka_option=fetch.wait.max.ms=10, as the tests do: the
mock does not answer a waiting fetch early when a record arrives.

Every child (servers, mock clusters) is started here, listens on loopback
only, and is ended by its PID. --settings runs a subset (the first is the
base of the ratios).

  /usr/bin/python3 bench/kafka_throughput.py --build_dir=build --runs=5
"""

import argparse
import ctypes
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ARGS = None
MODEL = "bench"
PREFIX = "streamfit."
FAST_FETCH = "--kafka_option=fetch.wait.max.ms=10"
WARMUP_S = 1.0


# --- mock clusters ---------------------------------------------------------

def serve_mock(brokers):
    """Child process: a librdkafka mock cluster of `brokers` brokers, driven
    like streamfit-kafka-mock: prints "bootstrap HOST:PORT,...", then answers
    "topic NAME" (one partition, replicated on every broker) with "ok";
    exits at EOF on stdin."""
    lib = ctypes.CDLL("librdkafka.so.1")
    lib.rd_kafka_conf_new.restype = ctypes.c_void_p
    lib.rd_kafka_conf_set.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                      ctypes.c_char_p, ctypes.c_char_p,
                                      ctypes.c_size_t]
    lib.rd_kafka_new.restype = ctypes.c_void_p
    lib.rd_kafka_new.argtypes = [ctypes.c_int, ctypes.c_void_p,
                                 ctypes.c_char_p, ctypes.c_size_t]
    lib.rd_kafka_mock_cluster_new.restype = ctypes.c_void_p
    lib.rd_kafka_mock_cluster_new.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.rd_kafka_mock_cluster_bootstraps.restype = ctypes.c_char_p
    lib.rd_kafka_mock_cluster_bootstraps.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_mock_topic_create.restype = ctypes.c_int
    lib.rd_kafka_mock_topic_create.argtypes = [ctypes.c_void_p,
                                               ctypes.c_char_p, ctypes.c_int,
                                               ctypes.c_int]
    lib.rd_kafka_mock_cluster_destroy.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_destroy.argtypes = [ctypes.c_void_p]

    error = ctypes.create_string_buffer(512)
    conf = lib.rd_kafka_conf_new()
    lib.rd_kafka_conf_set(conf, b"log_level", b"0", error, len(error))
    handle = lib.rd_kafka_new(0, conf, error, len(error))  # a producer
    if not handle:
        sys.exit(f"rd_kafka_new: {error.value.decode()}")
    cluster = lib.rd_kafka_mock_cluster_new(handle, brokers)
    if not cluster:
        sys.exit("rd_kafka_mock_cluster_new failed")
    bootstrap = lib.rd_kafka_mock_cluster_bootstraps(cluster).decode()
    print(f"bootstrap {bootstrap}", flush=True)
    for line in sys.stdin:
        words = line.split()
        if len(words) == 2 and words[0] == "topic":
            code = lib.rd_kafka_mock_topic_create(cluster, words[1].encode(),
                                                  1, brokers)
            print("ok" if code == 0 else f"error {code}", flush=True)
        else:
            print(f"error unknown command: {line.strip()}", flush=True)
    lib.rd_kafka_mock_cluster_destroy(cluster)
    lib.rd_kafka_destroy(handle)


class MockCluster:
    """A mock cluster child (streamfit-kafka-mock, or serve_mock through
    this script): one command line in, one line out."""

    def __init__(self, brokers):
        if brokers == 3:
            command = [ARGS.mock or os.path.join(
                ARGS.build_dir, "tests", "kafka", "streamfit-kafka-mock")]
        else:
            command = [sys.executable, "-B", os.path.abspath(__file__),
                       f"--serve_mock={brokers}"]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        words = self.process.stdout.readline().split()
        if len(words) != 2 or words[0] != "bootstrap":
            self.stop()
            raise RuntimeError(f"{command} did not print its bootstrap")
        self.bootstrap = words[1]
        for host_port in self.bootstrap.split(","):
            if not host_port.startswith("127.0.0.1:"):
                self.stop()
                raise RuntimeError(f"mock broker beyond loopback: {host_port}")

    def topic(self, name):
        self.process.stdin.write(f"topic {name}\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        if answer != "ok":
            raise RuntimeError(f"topic {name}: {answer!r}")

    def stop(self):
        """Ends the child by its PID: EOF on stdin, then SIGKILL if it has
        not exited within 10 s."""
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process.stdout.close()


# --- servers and load ------------------------------------------------------

class Replica:
    """A streamfit-server child with its own data directory and channel."""

    def __init__(self, extra_args):
        self.data_dir = tempfile.TemporaryDirectory(prefix="streamfit-bench-")
        self.server = server_process.ServerProcess(
            os.path.join(ARGS.build_dir, "server", "streamfit-server"),
            self.data_dir.name, ["--default_model=", *extra_args])
        self.channel = None
        try:
            self.server.start(timeout=60)
        except RuntimeError:
            self.stop()
            raise
        self.channel = grpc.insecure_channel(
            self.server.address, options=[("grpc.enable_http_proxy", 0)])
        self.stub = pb2_grpc.LearnerStub(self.channel)

    def info(self):
        return self.stub.GetModel(pb2.GetModelRequest(name=MODEL), timeout=10)

    def stop(self):
        """Ends the server by its PID (SIGTERM, then SIGKILL after 10 s)."""
        if self.channel is not None:
            self.channel.close()  # an open call would hold the shutdown
        self.server.stop()
        self.data_dir.cleanup()


def create_model(replica):
    config = pb2.ModelConfig(task=pb2.TASK_REGRESSION,
                             num_features=ARGS.features)
    replica.stub.CreateModel(pb2.CreateModelRequest(name=MODEL, config=config),
                             timeout=30)


def serialized_requests(seed, count):
    """`count` ObserveRequests of --batch examples, serialized once so that
    the client spends its time on the calls."""
    rng = random.Random(seed)
    requests = []
    for _ in range(count):
        request = pb2.ObserveRequest(model=MODEL)
        request.dense_batch.num_features = ARGS.features
        values = [rng.uniform(-3, 3)
                  for _ in range(ARGS.batch * ARGS.features)]
        request.dense_batch.values.extend(values)
        request.dense_batch.labels.extend(
            2 * values[i * ARGS.features] - values[i * ARGS.features + 1] +
            rng.gauss(0, 0.1) for i in range(ARGS.batch))
        requests.append(request.SerializeToString())
    return requests


class Load:
    """--streams ObserveStreams to one replica, --window requests in flight
    each, for --seconds; records every ack's time and version."""

    def __init__(self, replica):
        self.observe_stream = replica.channel.stream_stream(
            "/streamfit.v1.Learner/ObserveStream",
            request_serializer=None,  # the requests are serialized already
            response_deserializer=pb2.ObserveAck.FromString)
        self.acks = [[] for _ in range(ARGS.streams)]  # (time, version)
        self.errors = []
        self.newest_version = 0
        self.start = self.stop_sending = self.end = None

    def run(self):
        threads = [threading.Thread(target=self.stream, args=(i,))
                   for i in range(ARGS.streams)]
        self.start = time.monotonic()
        self.stop_sending = self.start + ARGS.seconds
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.end = time.monotonic()
        if self.errors:
            raise RuntimeError(f"Observe failed: {self.errors[0]}")

    def stream(self, index):
        requests = serialized_requests(index, 16)
        window = threading.Semaphore(ARGS.window)

        def sent():
            n = 0
            while time.monotonic() < self.stop_sending:
                window.acquire()
                yield requests[n % len(requests)]
                n += 1

        acks = self.acks[index]
        try:
            for ack in self.observe_stream(sent(), timeout=ARGS.seconds + 60):
                acks.append((time.monotonic(), ack.model_version))
                if ack.model_version > self.newest_version:
                    self.newest_version = ack.model_version
                window.release()
        except grpc.RpcError as e:
            self.errors.append(f"{e.code()}: {e.details()}")

    def samples_per_second(self):
        """Samples acked between the warm-up and the end of sending."""
        begin = self.start + WARMUP_S
        acked = sum(1 for acks in self.acks for t, _ in acks
                    if begin <= t <= self.stop_sending)
        return acked * ARGS.batch / (self.stop_sending - begin)

    def final_version(self):
        return max(v for acks in self.acks for _, v in acks)


def measure(extra_args, cluster=None, follower=False):
    """One setting: {"rate": samples/s} (and the follower's lag)."""
    replicas = []
    try:
        replicas.append(Replica(extra_args))
        if follower:
            replicas.append(Replica(extra_args))
        if cluster is not None:
            cluster.topic(f"{PREFIX}{MODEL}")
        create_model(replicas[0])
        for replica in replicas[1:]:
            wait_until(lambda: has_model(replica), "the model on the follower")
        load = Load(replicas[0])
        samples = []
        if follower:
            sampler = threading.Thread(
                target=sample_lag, args=(replicas[1], load, samples))
            sampler.start()
        load.run()
        result = {"rate": load.samples_per_second()}
        if follower:
            sampler.join()
            final = load.final_version()
            wait_until(lambda: replicas[1].info().model_version >= final,
                       "the follower at the final version", timeout=120)
            result["catch_up_s"] = time.monotonic() - load.end
            version = replicas[1].info().model_version
            if version != final:
                raise RuntimeError(f"follower at {version}, not {final}")
            result["lag_records"] = [s[0] for s in samples]
            result["lag_seconds"] = [s[1] for s in samples]
            result["behind_samples"] = [s[2] for s in samples]
        return result
    finally:
        for replica in replicas:
            replica.stop()


def has_model(replica):
    try:
        replica.info()
        return True
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.NOT_FOUND:
            raise
        return False


def wait_until(condition, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.01)


def sample_lag(follower, load, samples):
    """Appends (records waiting, lag_seconds, samples behind the newest ack)
    of the follower every --lag_interval_s while the load is measured."""
    while load.start is None:
        time.sleep(0.001)
    while time.monotonic() < load.start + WARMUP_S:
        time.sleep(0.01)
    while time.monotonic() < load.stop_sending:
        newest = load.newest_version  # read before the follower's version
        info = follower.info()
        kafka = info.kafka
        samples.append((kafka.end_offset - kafka.next_offset,
                        kafka.lag_seconds,
                        max(0, newest - info.model_version)))
        time.sleep(ARGS.lag_interval_s)


# --- the repetitions -------------------------------------------------------

SETTINGS = ("embedded/always", "embedded/never", "kafka/1 broker",
            "kafka/3 brokers", "kafka/3+follower")


def run_setting(name):
    if name.startswith("embedded/"):
        return measure([f"--fsync={name.split('/')[1]}"])
    brokers = 1 if name == "kafka/1 broker" else 3
    cluster = MockCluster(brokers)
    try:
        cluster.topic(f"{PREFIX}_models")
        return measure([f"--kafka_brokers={cluster.bootstrap}", FAST_FETCH],
                       cluster, follower=name.endswith("follower"))
    finally:
        cluster.stop()


def main():
    global ARGS
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--build_dir", default="build")
    parser.add_argument("--source_dir",
                        default=os.path.dirname(os.path.dirname(
                            os.path.abspath(__file__))))
    parser.add_argument("--mock", default="",
                        help="streamfit-kafka-mock (default: "
                        "BUILD_DIR/tests/kafka/streamfit-kafka-mock)")
    parser.add_argument("--stubs", default="",
                        help="the generated Python stubs (default: "
                        "BUILD_DIR/tests/interop/python)")
    parser.add_argument("--settings", default=",".join(SETTINGS),
                        help="comma-separated subset of: " +
                        ", ".join(SETTINGS) + " (the first is the base of "
                        "the ratios)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--lag_interval_s", type=float, default=0.05)
    parser.add_argument("--serve_mock", type=int, default=0,
                        help=argparse.SUPPRESS)  # the one-broker child
    ARGS = parser.parse_args()
    if ARGS.serve_mock:
        serve_mock(ARGS.serve_mock)
        return
    load_modules()
    settings = ARGS.settings.split(",")
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        sys.exit(f"unknown settings: {', '.join(sorted(unknown))}")
    print(f"{ARGS.streams} streams x {ARGS.window} in flight x {ARGS.batch} "
          f"examples of {ARGS.features} features, {ARGS.seconds:g} s per "
          f"setting, {ARGS.runs} runs", flush=True)
    results = {name: [] for name in settings}
    for run in range(1, ARGS.runs + 1):
        for name in settings:
            result = run_setting(name)
            results[name].append(result)
            base = results[settings[0]][-1]["rate"]
            line = (f"run {run} {name:17s} {result['rate'] / 1e3:8.1f} k "
                    f"samples/s  ratio {result['rate'] / base:.3f}")
            if "lag_records" in result:
                line += (
                    f"  lag records median {median(result['lag_records'])} "
                    f"max {max(result['lag_records'])}, seconds median "
                    f"{median(result['lag_seconds']):.3f} max "
                    f"{max(result['lag_seconds']):.3f}, samples behind "
                    f"median {median(result['behind_samples'])} max "
                    f"{max(result['behind_samples'])}, catch-up "
                    f"{result['catch_up_s']:.3f} s")
            print(line, flush=True)
    print_summary(results, settings)


def median(values):
    return statistics.median(values) if values else float("nan")


def print_summary(results, settings):
    base = [r["rate"] for r in results[settings[0]]]
    print(f"\nmedians of {ARGS.runs} runs (ratio: to {settings[0]} of the "
          "same run)")
    print("| setting | k samples/s | ratio |")
    print("| --- | --- | --- |")
    for name in settings:
        rates = [r["rate"] for r in results[name]]
        ratios = [r / b for r, b in zip(rates, base)]
        print(f"| {name} | {median(rates) / 1e3:.1f} | {median(ratios):.3f} |")
    follower = results.get("kafka/3+follower")
    if not follower:
        return
    print("\nfollower while the first replica takes the load "
          "(medians over runs of each run's median and max)")
    for key, unit in (("lag_records", "records"), ("lag_seconds", "s"),
                      ("behind_samples", "samples behind")):
        print(f"  {key}: median {median([median(r[key]) for r in follower]):g}"
              f" {unit}, max {median([max(r[key]) for r in follower]):g} "
              f"{unit}")
    print(f"  catch-up after the load: "
          f"{median([r['catch_up_s'] for r in follower]):.3f} s")


def load_modules():
    """The generated stubs and the tests' server runner."""
    global grpc, pb2, pb2_grpc, server_process
    sys.path.insert(0, ARGS.stubs or os.path.join(
        ARGS.build_dir, "tests", "interop", "python"))
    sys.path.insert(0, os.path.join(ARGS.source_dir, "tests", "interop"))
    import grpc
    from streamfit.v1 import streamfit_pb2 as pb2
    from streamfit.v1 import streamfit_pb2_grpc as pb2_grpc
    import server_process


if __name__ == "__main__":
    main()
