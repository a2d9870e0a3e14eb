"""Kafka mode: real streamfit-server replicas against librdkafka's mock cluster.

The cluster runs in streamfit-kafka-mock (a child process driven over stdin:
it creates topics, produces records as "another system" would, and takes
brokers down). Every check is exact: replicas at equal versions must hold
byte-identical snapshots, and a model's version must equal the samples of
the records acknowledged (or produced) for it, none lost and none twice.
"""

import argparse
import hashlib
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

import grpc

ARGS = None
FEATURES = 3
PREFIX = "streamfit."
# The mock cluster does not answer a fetch early when a record arrives.
FAST_FETCH = "--kafka_option=fetch.wait.max.ms=10"


class MockCluster:
    """The streamfit-kafka-mock child: one command line in, one line out."""

    def __init__(self):
        self.process = subprocess.Popen(
            [ARGS.mock], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True)
        self.bootstrap = self.process.stdout.readline().split()[1]
        self.lock = threading.Lock()

    def command(self, line):
        with self.lock:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
            answer = self.process.stdout.readline().strip()
        if answer.startswith("error") or not answer:
            raise RuntimeError(f"{line}: {answer!r}")
        return answer

    def produce(self, topic, value):
        return int(self.command(f"produce {topic} {value.hex()}").split()[1])

    def stop(self):
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process.stdout.close()


def samples(seed, n):
    rng = random.Random(seed)
    values = [rng.uniform(-3, 3) for _ in range(n * FEATURES)]
    labels = [2 * values[i * FEATURES] - values[i * FEATURES + 1] + 0.5 +
              rng.gauss(0, 0.1) for i in range(n)]
    return values, labels


class KafkaTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, ARGS.stubs)
        sys.path.insert(0, os.path.join(ARGS.source_dir, "tests", "interop"))
        from streamfit.v1 import streamfit_pb2, streamfit_pb2_grpc
        import server_process
        cls.pb2, cls.grpc_mod, cls.sp = (streamfit_pb2, streamfit_pb2_grpc,
                                         server_process)

    def setUp(self):
        self.cluster = MockCluster()
        self.addCleanup(self.cluster.stop)
        self.cluster.command(f"topic {PREFIX}_models")
        self.servers = []

    def tearDown(self):
        for server in self.servers:
            self.stop(server)

    def stop(self, server):
        # An open client connection would hold the server's shutdown for
        # its whole grace period.
        server.channel.close()
        return server.stop()

    # --- helpers ---

    def replica(self, data_dir=None, extra=(), tls=None):
        """Starts a replica (a new data directory unless given); with `tls`
        (CA file, bearer token), the test talks to it over TLS."""
        if data_dir is None:
            holder = tempfile.TemporaryDirectory(prefix="streamfit-kafka-")
            self.addCleanup(holder.cleanup)
            data_dir = holder.name
        server = self.sp.ServerProcess(
            ARGS.server, data_dir,
            ["--default_model=", f"--kafka_brokers={self.cluster.bootstrap}",
             FAST_FETCH, "--checkpoint_every_samples=200",
             "--checkpoint_interval_s=0.2", *extra])
        self.servers.append(server)
        server.start()
        server.data_dir = data_dir
        options = [("grpc.enable_http_proxy", 0)]
        if tls is None:
            server.channel = grpc.insecure_channel(server.address, options)
        else:
            with open(tls[0], "rb") as f:
                credentials = grpc.composite_channel_credentials(
                    grpc.ssl_channel_credentials(root_certificates=f.read()),
                    grpc.access_token_call_credentials(tls[1]))
            server.channel = grpc.secure_channel(server.address, credentials,
                                                 options)
        server.stub = self.grpc_mod.LearnerStub(server.channel)
        return server

    def create(self, server, name="m"):
        """Creates the model on `server`, then waits until every replica
        running has read its catalogue record."""
        self.cluster.command(f"topic {PREFIX}{name}")
        config = self.pb2.ModelConfig(task=self.pb2.TASK_REGRESSION,
                                      num_features=FEATURES)
        info = server.stub.CreateModel(
            self.pb2.CreateModelRequest(name=name, config=config), timeout=30)
        for other in self.servers:
            self.wait_until(lambda: self.has_model(other, name), True)
        return info

    def has_model(self, server, name="m"):
        try:
            self.info(server, name)
            return True
        except grpc.RpcError as e:
            self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND)
            return False

    def wait_until(self, read, expected, timeout=30):
        deadline = time.monotonic() + timeout
        while (got := read()) != expected:
            if time.monotonic() > deadline:
                self.fail(f"still {got!r}, not {expected!r}")
            time.sleep(0.02)

    def request(self, seed, n, name="m"):
        values, labels = samples(seed, n)
        request = self.pb2.ObserveRequest(model=name)
        request.dense_batch.num_features = FEATURES
        request.dense_batch.values.extend(values)
        request.dense_batch.labels.extend(labels)
        return request

    def observe(self, server, seed, n, name="m"):
        return server.stub.Observe(iter([self.request(seed, n, name)]),
                                   timeout=30)

    def info(self, server, name="m"):
        return server.stub.GetModel(self.pb2.GetModelRequest(name=name),
                                    timeout=10)

    def wait_for_version(self, server, version, name="m"):
        self.wait_until(
            lambda: min(self.info(server, name).model_version, version),
            version)

    def metrics(self, server):
        port = re.search(r"metrics_port=(\d+)", server.output()).group(1)
        # No proxy: the metrics port is on loopback.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            return r.read().decode()

    def snapshot(self, server, name="m"):
        return server.stub.Snapshot(self.pb2.SnapshotRequest(model=name),
                                    timeout=10).SerializeToString()

    def assert_identical(self, servers, version, name="m"):
        for server in servers:
            self.wait_for_version(server, version, name)
        snapshots = [self.snapshot(s, name) for s in servers]
        for server, snap in zip(servers[1:], snapshots[1:]):
            self.assertEqual(snap, snapshots[0],
                             f"{server.address} differs at version {version}")
        self.assertEqual(
            self.pb2.ModelSnapshot.FromString(snapshots[0]).model_version,
            version)

    # --- tests ---

    def test_replicas_learn_one_stream_into_identical_models(self):
        a, b, c = self.replica(), self.replica(), self.replica()
        self.assertEqual(self.create(a).name, "m")
        self.assertEqual(self.info(b).config.num_features, FEATURES)
        with self.assertRaises(grpc.RpcError) as taken:
            self.create(b)
        self.assertEqual(taken.exception.code(),
                         grpc.StatusCode.ALREADY_EXISTS)

        # Read-your-writes on the other replica, and exact acks.
        ack = self.observe(a, seed=1, n=7)
        self.assertEqual((ack.accepted, ack.model_version), (7, 7))
        predict = self.pb2.PredictRequest(model="m", min_version=7)
        predict.features.add().dense.extend([1, 2, 3])
        self.assertEqual(len(b.stub.Predict(predict, timeout=10).predictions),
                         1)

        # Concurrent producers on both replicas: every acked sample counts
        # once, and the replicas agree bit for bit.
        acked, errors = [], []

        def produce(server, producer):
            try:
                stream = server.stub.ObserveStream(iter(
                    [self.request(100 * producer + i, 5 + producer)
                     for i in range(25)]), timeout=60)
                for ack in stream:
                    acked.append(ack.accepted)
            except grpc.RpcError as e:  # reported below
                errors.append(e)

        def produce_directly():  # another system writing LogRecords
            for i in range(20):
                record = self.pb2.LogRecord(observe=self.request(900 + i, 2))
                self.cluster.produce(PREFIX + "m", record.SerializeToString())

        threads = [threading.Thread(target=produce, args=(s, p))
                   for p, s in enumerate([a, b, a, b])]
        threads.append(threading.Thread(target=produce_directly))
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        total = 7 + sum(acked) + 20 * 2
        self.assertEqual(len(acked), 100)
        # A third replica learned alongside; a new one replays the topic
        # alone, from its start: all four agree.
        d = self.replica()
        self.assert_identical([a, b, c, d], total)
        position = self.info(b).kafka
        self.assertEqual(position.topic, PREFIX + "m")
        self.assertEqual(position.next_offset, 121)  # one record per request
        self.assertEqual(position.end_offset, 121)

    def test_records_from_other_producers_are_learned_or_skipped(self):
        a = self.replica(extra=["--metrics_address=127.0.0.1:0"])
        b = self.replica()
        self.create(a)
        self.observe(a, seed=1, n=4)
        topic = PREFIX + "m"

        def log_record(request):
            return self.pb2.LogRecord(observe=request).SerializeToString()

        # Learned exactly like an Observe: with or without the model's name.
        nameless = self.request(2, 6, name="")
        self.assertEqual(self.cluster.produce(topic, log_record(nameless)), 1)
        self.cluster.produce(topic, log_record(self.request(3, 5)))
        # Skipped on every replica: not a LogRecord, the wrong width,
        # another model's name, a catalogue record.
        bad = [b"\xff\x01garbage",
               log_record(self.pb2.ObserveRequest(
                   model="m", dense_batch=self.pb2.DenseBatch(
                       num_features=2, values=[1, 2], labels=[1]))),
               log_record(self.request(4, 3, name="other")),
               self.pb2.LogRecord(delete_model=self.pb2.DeleteModelRequest(
                   name="m")).SerializeToString()]
        for value in bad:
            self.cluster.produce(topic, value)
        self.cluster.produce(topic, log_record(self.request(5, 2)))
        self.assert_identical([a, b], 4 + 6 + 5 + 2)
        for server in (a, b):
            position = self.info(server).kafka
            self.assertEqual(position.skipped_records, len(bad))
            self.assertEqual(position.next_offset, 8)
            self.assertIn("skipped offset 3 of streamfit.m", server.output())
        # The replicas serve on.
        self.assertEqual(self.observe(b, seed=6, n=1).model_version, 18)
        self.wait_for_version(a, 18)
        metrics = self.metrics(a)
        self.assertIn('streamfit_kafka_records_skipped_total{model="m"} 4',
                      metrics)
        self.assertIn('streamfit_kafka_lag_records{model="m"} 0', metrics)
        self.assertIn('streamfit_kafka_lag_seconds{model="m"} 0', metrics)

    def test_killed_replica_resumes_from_its_checkpoint_and_converges(self):
        a, b = self.replica(), self.replica()
        self.create(a)
        stop = threading.Event()
        acked = []

        def produce():
            seed = 1000
            while not stop.is_set():
                seed += 1
                acked.append(self.observe(a, seed, 3 + seed % 5).accepted)

        producer = threading.Thread(target=produce)
        producer.start()
        try:
            self.wait_for_version(b, 600)
            b._process.kill()  # SIGKILL, by PID: no final checkpoint
            b._process.wait(10)
            self.stop(b)
            time.sleep(0.3)  # a learns on meanwhile
            b = self.replica(data_dir=b.data_dir)
            self.assertRegex(b.output(),
                             r"reads streamfit\.m from offset \d+ at version "
                             r"[1-9]\d* \(its checkpoint\)")
            time.sleep(0.3)
        finally:
            stop.set()
            producer.join(60)
        total = sum(acked)
        self.assertGreater(total, 600)
        # A replica with an empty data directory replays the whole topic,
        # or starts from a peer's snapshot and reads on from its position.
        c = self.replica()
        d = self.replica(extra=[f"--bootstrap_peer={a.address}"])
        self.assertRegex(d.output(),
                         r"reads streamfit\.m from offset [1-9]\d* at "
                         r"version [1-9]\d* \(peer 127\.0\.0\.1:\d+\)")
        self.assert_identical([a, b, c, d], total)
        snapshot = self.pb2.ModelSnapshot.FromString(self.snapshot(a))
        self.assertEqual(snapshot.kafka_incarnation, 1)  # catalogue offset 0
        self.assertGreater(snapshot.kafka_offset, 0)

    def test_a_new_replica_bootstraps_from_a_peer_serving_tls(self):
        import certs
        holder = tempfile.TemporaryDirectory(prefix="streamfit-kafka-tls-")
        self.addCleanup(holder.cleanup)
        work = holder.name
        ca = certs.make_ca(work, "ca")
        cert = certs.make_cert(work, "server", ca, server=True)
        tokens = {role: f"{role}-" + os.urandom(8).hex()
                  for role in ("admin", "operator")}
        with open(os.path.join(work, "tokens"), "w") as f:
            for role, token in tokens.items():
                digest = hashlib.sha256(token.encode()).hexdigest()
                f.write(f"{role} {digest} {role}-client\n")
        token_file = os.path.join(work, "operator-token")
        with open(token_file, "w") as f:
            f.write(tokens["operator"] + "\n")
        a = self.replica(
            extra=[f"--tls_cert_file={cert[0]}", f"--tls_key_file={cert[1]}",
                   f"--auth_tokens_file={os.path.join(work, 'tokens')}"],
            tls=(ca[0], tokens["admin"]))
        self.create(a)
        self.assertEqual(self.observe(a, seed=1, n=30).model_version, 30)
        b = self.replica(extra=[f"--bootstrap_peer={a.address}",
                                f"--bootstrap_peer_ca_file={ca[0]}",
                                f"--bootstrap_peer_token_file={token_file}"])
        self.assertRegex(b.output(),
                         r"reads streamfit\.m from offset [1-9]\d* at "
                         r"version 30 \(peer 127\.0\.0\.1:\d+\)")
        self.assert_identical([a, b], 30)

    def test_delete_then_create_starts_a_new_model(self):
        a, b = self.replica(), self.replica()
        self.create(a)
        self.observe(a, seed=1, n=9)
        self.wait_for_version(b, 9)
        b.stub.DeleteModel(self.pb2.DeleteModelRequest(name="m"), timeout=30)
        self.assertFalse(self.has_model(b))
        self.wait_until(lambda: self.has_model(a), False)
        # A new model of the same name does not learn the old records.
        self.assertEqual(self.create(b).model_version, 0)
        self.assertEqual(self.observe(a, seed=2, n=4).model_version, 4)
        self.assert_identical([a, b], 4)
        # A restarted replica rebuilds the same catalogue.
        self.stop(b)
        b = self.replica(data_dir=b.data_dir)
        self.assert_identical([a, b], 4)

    def test_retrain_is_adopted_by_every_replica_at_the_same_record(self):
        # Small messages: the fit travels in parts, between Observe records.
        small = ["--kafka_max_message_bytes=700"]
        a, b, c = (self.replica(extra=small) for _ in range(3))
        self.create(a)
        for seed in range(5):  # small requests: each fits one message
            total = self.observe(a, seed, n=10).model_version
        rows, labels = samples(7, 2000)
        csv = "".join(
            ",".join(map(str, [labels[i], *rows[i * FEATURES:(i + 1) *
                                                 FEATURES]])) + "\n"
            for i in range(len(labels)))
        dataset = b.stub.UploadDataset(iter([self.pb2.UploadDatasetRequest(
            data=csv.encode())]), timeout=30)

        stop = threading.Event()
        acked, failures = [], []

        def produce():
            seed = 5000
            while not stop.is_set():
                seed += 1
                acked.append(self.observe(a, seed, 1 + seed % 4).accepted)

        def predict():
            request = self.pb2.PredictRequest(model="m")
            request.features.add().dense.extend([1, 2, 3])
            while not stop.is_set():
                try:
                    c.stub.Predict(request, timeout=10)
                except grpc.RpcError as e:  # reported below
                    failures.append(e)

        threads = [threading.Thread(target=produce),
                   threading.Thread(target=predict)]
        for t in threads:
            t.start()
        try:
            job = b.stub.Retrain(self.pb2.RetrainRequest(
                model="m", dataset_id=dataset.id, algorithm="least_squares"),
                timeout=30)
            for job in b.stub.WatchRetrainJob(
                    self.pb2.GetRetrainJobRequest(id=job.id), timeout=60):
                pass
            time.sleep(0.3)  # a learns on after the swap
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        self.assertEqual(failures, [])
        self.assertEqual(job.state, self.pb2.RETRAIN_SUCCEEDED, job.error)
        self.assertTrue(job.swapped)
        self.assertEqual(job.replayed_samples,
                         job.swap_version - job.cutoff_version)
        total += sum(acked)
        self.assertGreater(total, job.swap_version)
        self.assert_identical([a, b, c], total)
        for server in (a, b, c):
            self.assertIn(f"adopted retrain {job.id}", server.output())
            lineage = self.info(server).lineage[-1]
            self.assertEqual(
                (lineage.event, lineage.job_id, lineage.dataset_id,
                 lineage.model_version),
                (self.pb2.LINEAGE_RETRAINED, job.id, dataset.id,
                 job.swap_version))
        # Killed after the adoption, a replica reads its parts again from
        # its checkpoint's position and ends the same; so does a new one.
        c._process.kill()
        c._process.wait(10)
        self.stop(c)
        c = self.replica(data_dir=c.data_dir, extra=small)
        d = self.replica(extra=small)
        total += self.observe(b, seed=9, n=3).accepted
        self.assert_identical([a, b, c, d], total)

    def test_a_record_in_parts_is_read_again_from_its_first_part(self):
        a = self.replica()
        self.create(a)
        self.create(a, name="other")
        self.observe(a, seed=1, n=10)
        self.observe(a, seed=2, n=30, name="other")
        self.wait_for_version(a, 10)
        cutoff = self.pb2.ModelSnapshot.FromString(self.snapshot(a))
        fitted = self.pb2.ModelSnapshot.FromString(self.snapshot(a, "other"))
        # A retrain's fit in two parts, written by hand, with samples between.
        record = self.pb2.LogRecord(
            adopt_retrain=self.pb2.RetrainAdoption(
                job_id="by-hand", fitted=fitted,
                cutoff_offset=cutoff.kafka_offset,
                cutoff_record_version=cutoff.kafka_record_version,
                cutoff_version=cutoff.model_version),
            model_incarnation=cutoff.kafka_incarnation).SerializeToString()
        half = len(record) // 2
        topic = PREFIX + "m"

        def part(index, data):
            return self.pb2.LogRecord(part=self.pb2.LogRecordPart(
                id="p", index=index, count=2, data=data)).SerializeToString()

        first = self.cluster.produce(topic, part(0, record[:half]))
        self.observe(a, seed=3, n=5)
        # Until the record is complete, a state continues from its first part.
        before = self.pb2.ModelSnapshot.FromString(self.snapshot(a))
        self.assertEqual((before.model_version, before.kafka_offset,
                          before.kafka_record_version), (15, first, 10))
        b = self.replica(extra=[f"--bootstrap_peer={a.address}"])
        self.assertRegex(b.output(), rf"reads streamfit\.m from offset {first} "
                         r"at version 15 \(peer")
        self.cluster.produce(topic, part(1, record[half:]))
        for server in (a, b):
            self.wait_until(lambda: "adopted retrain by-hand" in
                            server.output(), True)
        # The fit went on with the 5 samples after the cutoff, on both.
        self.assert_identical([a, b], 15)
        self.assertNotEqual(self.snapshot(a), before.SerializeToString())

    def test_restore_on_one_replica_restores_every_replica(self):
        small = ["--kafka_max_message_bytes=700"]
        a, b = self.replica(extra=small), self.replica(extra=small)
        self.create(a)
        self.observe(a, seed=1, n=20)
        saved = a.stub.Snapshot(self.pb2.SnapshotRequest(model="m"),
                                timeout=10)
        self.assertEqual(self.observe(a, seed=2, n=10).model_version, 30)
        # Refused as without Kafka, and nothing changes.
        wide = self.pb2.ModelSnapshot()
        wide.CopyFrom(saved)
        wide.config.num_features = FEATURES + 1
        with self.assertRaises(grpc.RpcError) as refused:
            b.stub.Restore(self.pb2.RestoreRequest(model="m", snapshot=wide),
                           timeout=30)
        self.assertEqual(refused.exception.code(),
                         grpc.StatusCode.FAILED_PRECONDITION)

        # An Observe too large for one message is refused as a whole.
        with self.assertRaises(grpc.RpcError) as large:
            self.observe(b, seed=4, n=100)
        self.assertEqual(large.exception.code(),
                         grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("--kafka_max_message_bytes", large.exception.details())

        restored = b.stub.Restore(
            self.pb2.RestoreRequest(model="m", snapshot=saved), timeout=30)
        self.assertEqual(restored.model_version, 20)
        self.assert_identical([a, b], 20)
        incarnation = self.pb2.ModelSnapshot.FromString(
            self.snapshot(a)).kafka_incarnation
        self.assertGreater(incarnation, 1)
        # The restored model learns on from the topic's end, on both.
        self.assertEqual(self.observe(a, seed=3, n=5).model_version, 25)
        self.assert_identical([a, b], 25)
        # A restarted replica and a new one rebuild the same model.
        self.stop(b)
        b = self.replica(data_dir=b.data_dir, extra=small)
        c = self.replica(extra=small)
        self.assert_identical([a, b, c], 25)

    def test_brokers_down_fail_observe_and_lose_nothing(self):
        a, b = self.replica(extra=["--kafka_option=message.timeout.ms=2000"]), \
            self.replica()
        self.create(a)
        self.assertEqual(self.observe(a, seed=1, n=5).model_version, 5)
        for broker in (1, 2, 3):
            self.cluster.command(f"down {broker}")
        with self.assertRaises(grpc.RpcError) as down:
            self.observe(a, seed=2, n=3)
        self.assertEqual(down.exception.code(), grpc.StatusCode.UNAVAILABLE)
        for broker in (1, 2, 3):
            self.cluster.command(f"up {broker}")
        # Acknowledged samples only: the failed request was never applied.
        deadline = time.monotonic() + 30
        while True:
            try:
                ack = self.observe(a, seed=3, n=4)
                break
            except grpc.RpcError as e:
                if time.monotonic() > deadline:
                    raise
                self.assertEqual(e.code(), grpc.StatusCode.UNAVAILABLE)
        self.assert_identical([a, b], ack.model_version)
        self.assertEqual(ack.model_version % 4, 1)  # 5, then 4s only

    def test_a_replica_behind_shows_its_lag_until_it_catches_up(self):
        a = self.replica()
        self.create(a)
        for seed in range(20):
            self.observe(a, seed, 2)
        # Slow brokers, and a new replica that fetches one record at a time.
        for broker in (1, 2, 3):
            self.cluster.command(f"rtt {broker} 150")
        b = self.replica(extra=["--kafka_option=fetch.message.max.bytes=1",
                                "--metrics_address=127.0.0.1:0"])
        self.wait_until(lambda: self.info(b).kafka.end_offset, 20)
        position = self.info(b).kafka
        self.assertLess(position.next_offset, 20)
        self.assertGreater(position.lag_seconds, 0)
        metrics = self.metrics(b)
        lag = re.search(r'streamfit_kafka_lag_records\{model="m"\} (\d+)',
                        metrics)
        self.assertGreater(int(lag.group(1)), 0)
        for broker in (1, 2, 3):
            self.cluster.command(f"rtt {broker} 0")
        self.assert_identical([a, b], 40)
        position = self.info(b).kafka
        self.assertEqual((position.next_offset, position.lag_seconds), (20, 0))
        self.assertIn('streamfit_kafka_lag_records{model="m"} 0',
                      self.metrics(b))

    def test_leader_change_keeps_every_acknowledged_sample_once(self):
        a, b = self.replica(), self.replica()
        self.create(a)
        topic = PREFIX + "m"
        total = 0
        for i in range(30):
            if i == 10:
                self.cluster.command(f"leader {topic} 2")
            if i == 20:
                self.cluster.command(f"leader {topic} 3")
            total += self.observe([a, b][i % 2], seed=i, n=3).accepted
        self.assert_identical([a, b], total)
        self.assertEqual(total, 90)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--mock", required=True)
    parser.add_argument("--stubs", required=True)
    parser.add_argument("--source_dir", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest])
