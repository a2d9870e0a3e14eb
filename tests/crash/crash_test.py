"""Crash, corruption and disk-trouble tests against the real streamfit-server.

Every test checks exactness, not just counts: a model recovered at version v
must equal, bit for bit, a reference model (in a second, never-killed server)
fed the first v samples in the order the crashed server's log holds them.
The order is known from the acks (each ack gives its request's version
range); requests in flight at the kill were not acked and may or may not be
in the log: each producer sends requests of a distinct size, so the version
gaps left between acked ranges identify which of them made it.
"""

import argparse
import itertools
import os
import queue
import random
import resource
import signal
import sys
import tempfile
import threading
import time
import unittest

import grpc

ARGS = None
FEATURES = 3
SIZES = (5, 7, 11)  # samples per request, one size per producer


def request_samples(producer, index):
    """The (values, labels) of a producer's index-th request: deterministic."""
    rng = random.Random(producer * 1_000_003 + index)
    n = SIZES[producer]
    values = [rng.uniform(-3, 3) for _ in range(n * FEATURES)]
    labels = [2 * values[i * FEATURES] - values[i * FEATURES + 1] + 0.5 +
              rng.gauss(0, 0.1) for i in range(n)]
    return values, labels


class Producer(threading.Thread):
    """Streams requests on ObserveStream, one in flight, recording acks."""

    def __init__(self, pb2, stub, model, producer, first_index, stop):
        super().__init__(daemon=True)
        self.pb2, self.stub, self.model = pb2, stub, model
        self.producer = producer
        self.index = first_index
        self.stop = stop
        self.acked = []  # (start_version, producer, index)
        self.in_flight = None  # index of the request sent and not acked
        self.error = None
        # Created here, not in _requests: gRPC runs that generator lazily on
        # its own thread, after run() may already have put a request.
        self.queue = queue.Queue()

    def _requests(self):
        while True:
            item = self.queue.get()
            if item is None:
                return
            yield item

    def run(self):
        gen = self._requests()
        try:
            acks = self.stub.ObserveStream(gen)
            while not self.stop.is_set():
                values, labels = request_samples(self.producer, self.index)
                request = self.pb2.ObserveRequest(model=self.model)
                request.dense_batch.num_features = FEATURES
                request.dense_batch.values.extend(values)
                request.dense_batch.labels.extend(labels)
                self.in_flight = self.index
                self.queue.put(request)
                ack = next(acks)
                assert ack.accepted == SIZES[self.producer]
                self.acked.append((ack.model_version - ack.accepted,
                                   self.producer, self.index))
                self.in_flight = None
                self.index += 1
            self.queue.put(None)
            for _ in acks:
                pass
        except grpc.RpcError as e:
            self.error = e
        except StopIteration:
            pass


class Ledger:
    """What the crashed server's log holds: version -> (producer, index)."""

    def __init__(self):
        self.by_start = {}  # start version -> (producer, index)
        self.next_index = [0] * len(SIZES)
        self.ambiguous = []

    def settle(self, producers, recovered_version, floor):
        """Adds this round's acked requests and the in-flight ones that the
        recovered version shows were logged. Returns the max acked end."""
        acked_end = floor
        for p in producers:
            for start, producer, index in p.acked:
                self.by_start[start] = (producer, index)
                acked_end = max(acked_end, start + SIZES[producer])
        # Gaps between acked ranges below recovered_version.
        gaps, v = [], floor
        for start in sorted(s for s in self.by_start if s >= floor):
            if start > v:
                gaps.append((v, start - v))
            v = max(v, start + SIZES[self.by_start[start][0]])
        if recovered_version > v:
            gaps.append((v, recovered_version - v))
        assert v <= recovered_version or not gaps, (
            f"acked data up to {v} but recovered at {recovered_version}")
        candidates = [(p.producer, p.in_flight) for p in producers
                      if p.in_flight is not None]
        self.ambiguous = []  # [(gap_start, [orders of the same requests])]
        for gap_start, gap_len in gaps:
            # The in-flight requests that fill the gap: subset sums of the
            # distinct sizes are distinct, so the set is unique, not the order.
            fits = [combo for r in range(1, len(candidates) + 1)
                    for combo in itertools.permutations(candidates, r)
                    if sum(SIZES[c[0]] for c in combo) == gap_len]
            assert fits, (f"versions [{gap_start}, {gap_start + gap_len}) "
                          f"match no in-flight request: {candidates}")
            self.place(gap_start, fits[0])
            for c in fits[0]:
                candidates.remove(c)
            if len(fits) > 1:
                self.ambiguous.append((gap_start, fits))
        for p in producers:
            used = [i for (pr, i) in self.by_start.values() if pr == p.producer]
            self.next_index[p.producer] = (max(used) + 1) if used else 0
        return acked_end

    def place(self, start, requests):
        end = start + sum(SIZES[p] for p, _ in requests)
        for s in [s for s in self.by_start if start <= s < end]:
            del self.by_start[s]
        for producer, index in requests:
            self.by_start[start] = (producer, index)
            start += SIZES[producer]

    def samples(self, begin, end):
        """(values, labels) of versions [begin, end) in log order."""
        values, labels, v = [], [], 0
        for start in sorted(self.by_start):
            producer, index = self.by_start[start]
            n = SIZES[producer]
            if start + n <= begin or start >= end:
                continue
            vs, ls = request_samples(producer, index)
            for i in range(n):
                if begin <= start + i < end:
                    values.extend(vs[i * FEATURES:(i + 1) * FEATURES])
                    labels.append(ls[i])
        assert len(labels) == end - begin, (begin, end, len(labels))
        return values, labels


class CrashTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, ARGS.stubs)
        sys.path.insert(0, os.path.join(ARGS.source_dir, "tests", "interop"))
        from streamfit.v1 import streamfit_pb2, streamfit_pb2_grpc
        import server_process
        cls.pb2, cls.grpc_mod, cls.sp = (streamfit_pb2, streamfit_pb2_grpc,
                                         server_process)
        cls.ref_dir = tempfile.TemporaryDirectory(prefix="streamfit-ref-")
        cls.addClassCleanup(cls.ref_dir.cleanup)
        cls.ref = server_process.ServerProcess(
            ARGS.server, cls.ref_dir.name,
            ["--default_model=", "--fsync=never"])
        cls.addClassCleanup(cls.ref.stop)
        cls.ref.start()
        cls.ref_stub = cls.stub_for(cls.ref)

    @classmethod
    def stub_for(cls, server):
        channel = grpc.insecure_channel(server.address)
        return cls.grpc_mod.LearnerStub(channel)

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="streamfit-crash-")
        self.addCleanup(self.dir.cleanup)
        self.server = None
        self.ref_versions = 0
        self.ref_count = 0
        self.ref_model = f"ref_{self._testMethodName}"
        self.create(self.ref_stub, self.ref_model)

    def tearDown(self):
        if self.server is not None:
            self.server.stop()

    def create(self, stub, name):
        config = self.pb2.ModelConfig(
            task=self.pb2.TASK_REGRESSION, num_features=FEATURES,
            schedule=self.pb2.SCHEDULE_CONSTANT, learning_rate=0.01)
        stub.CreateModel(self.pb2.CreateModelRequest(name=name, config=config),
                         timeout=10)

    def start(self, extra=(), preexec_fn=None):
        args = ["--default_model=", "--fsync=always",
                "--checkpoint_every_samples=300", "--checkpoint_interval_s=0.2",
                "--log_segment_bytes=4096", *extra]
        self.server = self.sp.ServerProcess(ARGS.server, self.dir.name, args)
        if preexec_fn is not None:
            self.server.preexec_fn = preexec_fn
        self.server.start()
        return self.stub_for(self.server)

    def kill(self):
        self.server._process.kill()  # SIGKILL, by PID
        self.server._process.wait(10)
        self.server.stop()
        self.server = None

    def snapshot(self, stub, model):
        return stub.Snapshot(self.pb2.SnapshotRequest(model=model), timeout=10)

    def feed_reference(self, model, ledger, begin, end):
        if end <= begin:
            return
        values, labels = ledger.samples(begin, end)
        request = self.pb2.ObserveRequest(model=model)
        request.dense_batch.num_features = FEATURES
        request.dense_batch.values.extend(values)
        request.dense_batch.labels.extend(labels)
        response = self.ref_stub.Observe(iter([request]), timeout=30)
        self.assertEqual(response.model_version, end)

    def state_of(self, stub, model):
        snap = self.snapshot(stub, model)
        return snap.model_version, {t.name: list(t.values) for t in snap.state}

    def assert_matches_reference(self, snap, ledger):
        """The crashed model equals the reference after the same samples.
        Where unacked requests could be in the log in either order, each
        order is replayed from scratch and exactly one must match."""
        v = snap.model_version
        got = (v, {t.name: list(t.values) for t in snap.state})
        self.assertGreaterEqual(v, self.ref_versions)
        if ledger.ambiguous:
            matches = []
            for k, orders in enumerate(itertools.product(
                    *[fits for _, fits in ledger.ambiguous])):
                for (gap_start, _), order in zip(ledger.ambiguous, orders):
                    ledger.place(gap_start, order)
                self.ref_count += 1
                name = f"ref_{self._testMethodName[:40]}_{self.ref_count}"
                self.create(self.ref_stub, name)
                self.feed_reference(name, ledger, 0, v)
                if self.state_of(self.ref_stub, name) == got:
                    matches.append((name, orders))
            self.assertEqual(len(matches), 1, "no single log order matches")
            name, orders = matches[0]
            for (gap_start, _), order in zip(ledger.ambiguous, orders):
                ledger.place(gap_start, order)
            self.ref_model, self.ref_versions = name, v
            return
        self.feed_reference(self.ref_model, ledger, self.ref_versions, v)
        self.ref_versions = v
        self.assertEqual(self.state_of(self.ref_stub, self.ref_model), got,
                         f"model differs from replay at version {v}")

    def produce(self, stub, ledger, seconds, model="m"):
        stop = threading.Event()
        producers = [Producer(self.pb2, stub, model, p, ledger.next_index[p],
                              stop) for p in range(len(SIZES))]
        for p in producers:
            p.start()
        time.sleep(seconds)
        return producers, stop

    def test_kill9_loses_no_acknowledged_sample(self):
        rng = random.Random(6)
        stub = self.start()
        self.create(stub, "m")
        ledger = Ledger()
        floor = 0
        total_acked = 0
        for round_ in range(20):
            producers, stop = self.produce(stub, ledger, rng.uniform(0.1, 0.6))
            self.kill()  # producers are mid-stream
            for p in producers:
                p.join(10)
            stub = self.start()
            snap = self.snapshot(stub, "m")
            v = snap.model_version
            self.assertGreaterEqual(v, floor, "version went back")
            acked_end = ledger.settle(producers, v, floor)
            self.assertGreaterEqual(v, acked_end,
                                    f"round {round_}: acked samples lost")
            total_acked += sum(len(p.acked) for p in producers)
            self.assert_matches_reference(snap, ledger)
            floor = v
        self.assertGreater(total_acked, 20)
        self.assertIn("recovered at version", self.server.output())

    def test_kill9_keeps_hashed_and_named_features(self):
        """A model with dense, hashed and named features and an interaction,
        no checkpoint after its creation: after kill -9 its log alone brings
        back every acked sample with all its features, so the model equals
        the reference fed the same requests."""
        config = self.pb2.ModelConfig(
            task=self.pb2.TASK_REGRESSION, num_features=2, hash_bits=12,
            schedule=self.pb2.SCHEDULE_CONSTANT, learning_rate=0.01,
            interactions=[self.pb2.NamespacePair(first="user", second="item")])
        stub = self.start(["--checkpoint_every_samples=1000000",
                           "--checkpoint_interval_s=3600"])
        for s in (stub, self.ref_stub):
            s.CreateModel(self.pb2.CreateModelRequest(name="hashed",
                                                      config=config),
                          timeout=10)
        rng = random.Random(11)
        requests = []
        for r in range(30):
            request = self.pb2.ObserveRequest(model="hashed")
            for _ in range(1 + r % 4):
                e = request.examples.add()
                e.features.dense.extend([rng.uniform(-1, 1), rng.uniform(-1, 1)])
                for _ in range(rng.randrange(0, 4)):
                    e.features.indices.append(rng.randrange(1 << 32))
                    e.features.values.append(rng.uniform(-2, 2))
                e.features.named.add(namespace="user",
                                     name=f"u{rng.randrange(20)}")
                e.features.named.add(namespace="item",
                                     name=f"i{rng.randrange(50)}",
                                     value=rng.uniform(0.5, 2))
                e.label = rng.gauss(0, 1)
            requests.append(request)
        for request in requests:  # each acked (durable) before the next
            acked = stub.Observe(iter([request]), timeout=10)
            reference = self.ref_stub.Observe(iter([request]), timeout=10)
            self.assertEqual(acked.model_version, reference.model_version)
        total = acked.model_version
        self.kill()
        stub = self.start()
        self.assertIn("recovered at version", self.server.output())
        reference = self.state_of(self.ref_stub, "hashed")
        self.assertEqual(self.state_of(stub, "hashed"), reference)
        self.assertEqual(reference[0], total)
        # A clean stop checkpoints the hashed table; a start loads it back.
        self.assertEqual(self.server.stop(grace=10), 0)
        stub = self.start()
        self.assertIn(f"(checkpoint {total},", self.server.output())
        self.assertEqual(self.state_of(stub, "hashed"), reference)

    def _produce_then_kill(self, stub, ledger, seconds):
        producers, stop = self.produce(stub, ledger, seconds)
        stop.set()
        for p in producers:
            p.join(10)
            self.assertIsNone(p.error)
        self.kill()
        return producers

    def _segments(self):
        root = os.path.join(self.dir.name, "models")
        (model_dir,) = [os.path.join(root, d) for d in os.listdir(root)]
        segs = sorted(f for f in os.listdir(model_dir) if f.endswith(".seg"))
        ckpts = sorted(f for f in os.listdir(model_dir) if f.endswith(".ckpt"))
        return model_dir, segs, ckpts

    def _restart_and_check(self, ledger, producers, expect_in_output):
        """Restarts after producers stopped cleanly (nothing in flight): the
        model holds exactly what was acked."""
        stub = self.start()
        snap = self.snapshot(stub, "m")
        floor = self.ref_versions
        acked_end = ledger.settle(producers, snap.model_version, floor)
        self.assertEqual(snap.model_version, acked_end)
        self.assert_matches_reference(snap, ledger)
        self.assertIn(expect_in_output, self.server.output())
        return stub

    def test_torn_or_corrupt_log_tail_is_cut(self):
        stub = self.start()
        self.create(stub, "m")
        ledger = Ledger()
        producers = self._produce_then_kill(stub, ledger, 0.5)
        model_dir, segs, _ = self._segments()
        with open(os.path.join(model_dir, segs[-1]), "ab") as f:
            f.write(b"\x40\x00\x00\x00\xde\xad\xbe\xef" + b"\x01" * 20)  # torn
        self._restart_and_check(ledger, producers, "torn record")
        # Now a whole record with a bad checksum at the end of the log.
        self.kill()
        model_dir, segs, _ = self._segments()
        path = os.path.join(model_dir, segs[-1])
        with open(path, "rb") as f:
            data = f.read()
        length = int.from_bytes(data[:4], "little")
        record = bytearray(data[:8 + length])
        record[8 + length // 2] ^= 0xFF
        with open(path, "ab") as f:
            f.write(record)
        self._restart_and_check(ledger, [], "checksum mismatch")

    def test_corrupt_or_truncated_newest_checkpoint_falls_back(self):
        stub = self.start()
        self.create(stub, "m")
        ledger = Ledger()
        producers, stop = self.produce(stub, ledger, 0.3)
        for _ in range(100):  # bounded: until a checkpoint after the first
            if len(self._segments()[2]) >= 2:
                break
            time.sleep(0.1)
        stop.set()
        for p in producers:
            p.join(10)
            self.assertIsNone(p.error)
        output = self.server.output()
        self.kill()
        model_dir, _, ckpts = self._segments()
        self.assertGreaterEqual(len(ckpts), 2, f"{os.listdir(model_dir)}\n"
                                f"{output}")
        newest = os.path.join(model_dir, ckpts[-1])
        with open(newest, "rb") as f:
            data = bytearray(f.read())
        data[len(data) // 2] ^= 0x55
        with open(newest, "wb") as f:
            f.write(data)
        stub = self._restart_and_check(ledger, producers, "checksum mismatch")
        # SIGTERM: drain, final checkpoint, exit 0 within the grace period.
        self.assertEqual(self.server.stop(grace=10), 0)
        self.assertIn("stopped", self.server.output())
        self.server = None
        model_dir, _, ckpts = self._segments()
        newest = os.path.join(model_dir, ckpts[-1])
        os.truncate(newest, os.path.getsize(newest) // 2)
        self._restart_and_check(ledger, [], "skipped checkpoint")

    def test_full_disk_refuses_then_recovers(self):
        limit = 48 * 1024

        def limit_file_size():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead
            # Soft limit only: the test raises it again without privileges.
            resource.setrlimit(resource.RLIMIT_FSIZE,
                               (limit, resource.RLIM_INFINITY))

        stub = self.start(["--log_segment_bytes=1000000000"], limit_file_size)
        self.create(stub, "m")
        ledger = Ledger()
        stop = threading.Event()
        producer = Producer(self.pb2, stub, "m", 0, 0, stop)
        producer.start()
        producer.join(60)
        self.assertFalse(producer.is_alive())
        self.assertIsNotNone(producer.error)
        self.assertEqual(producer.error.code(),
                         grpc.StatusCode.RESOURCE_EXHAUSTED,
                         producer.error.details())
        acked = len(producer.acked) * SIZES[0]
        self.assertGreater(acked, 0)
        # Nothing of the refused request was applied.
        info = stub.GetModel(self.pb2.GetModelRequest(name="m"), timeout=10)
        self.assertEqual(info.model_version, acked)
        # Space returns: raise the limit of the running server.
        resource.prlimit(self.server._process.pid, resource.RLIMIT_FSIZE,
                         (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        producer.in_flight = None
        ledger.next_index[0] = len(producer.acked)
        more = Producer(self.pb2, stub, "m", 0, len(producer.acked), stop)
        more.start()
        time.sleep(0.3)
        stop.set()
        more.join(10)
        self.assertIsNone(more.error)
        self.assertGreater(len(more.acked), 0)
        self.kill()
        self.start()
        stub = self.stub_for(self.server)
        snap = self.snapshot(stub, "m")
        acked_end = ledger.settle([producer, more], snap.model_version, 0)
        self.assertEqual(snap.model_version, acked_end)
        self.assert_matches_reference(snap, ledger)

    def second_server(self, data_dir, extra=()):
        """Starts a second server that must refuse to start; returns its exit
        code and output."""
        other = self.sp.ServerProcess(ARGS.server, data_dir,
                                      ["--default_model=", *extra])
        with self.assertRaises(RuntimeError):
            other.start(timeout=30)
        code = other.stop()
        return code, other.output()

    def test_second_server_on_the_same_data_dir_refuses_to_start(self):
        stub = self.start()
        self.create(stub, "m")
        code, output = self.second_server(self.dir.name)
        self.assertEqual(code, 1, output)
        self.assertIn("LOCK", output)
        self.assertIn("another process", output)
        # The first server and its model are untouched.
        info = stub.GetModel(self.pb2.GetModelRequest(name="m"), timeout=10)
        self.assertEqual(info.name, "m")
        # Once the first has stopped, the directory can be opened again.
        self.server.stop()
        self.server = None
        stub = self.start()
        stub.GetModel(self.pb2.GetModelRequest(name="m"), timeout=10)

    def test_second_server_on_a_port_in_use_refuses_to_start(self):
        self.start()
        other_dir = tempfile.TemporaryDirectory(prefix="streamfit-other-")
        self.addCleanup(other_dir.cleanup)
        code, output = self.second_server(
            other_dir.name, [f"--address={self.server.address}"])
        self.assertEqual(code, 1, output)
        self.assertIn("cannot listen on", output)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--stubs", required=True)
    parser.add_argument("--source_dir", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest])
