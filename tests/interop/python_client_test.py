"""The `streamfit` Python package (client/python) against a real server.

The package is installed the way a user installs it, with Debian's pip
offline (--no-deps --no-build-isolation --no-index), from a copy of
client/python into a temporary --target directory, which is then imported.

usage: python_client_test.py --server=BINARY --source_dir=DIR
       [--protoc=PROTOC --grpc_python_plugin=PLUGIN] [unittest args]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import grpc
import numpy as np

import server_process

ARGS = None  # set in main
streamfit = None  # the installed package, imported in main

RPC_TIMEOUT = 30  # seconds


def install_package(target_dir):
    """pip-installs client/python into target_dir, building in a copy."""
    build_root = os.path.join(target_dir, "_src")
    source = os.path.join(build_root, "python")
    shutil.copytree(os.path.join(ARGS.source_dir, "client", "python"), source,
                    ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                  "__pycache__"))
    env = dict(os.environ,
               STREAMFIT_PROTO_DIR=os.path.join(ARGS.source_dir, "proto"),
               PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_ROOT_USER_ACTION="ignore")
    if ARGS.protoc:
        env["PROTOC"] = ARGS.protoc
    if ARGS.grpc_python_plugin:
        env["GRPC_PYTHON_PLUGIN"] = ARGS.grpc_python_plugin
    site = os.path.join(target_dir, "site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--no-index", "--target", site, source],
        check=True, env=env, cwd=build_root)
    return site


def read_csv(name):
    """tests/data/NAME as (X float32 [N, F], y float64 [N])."""
    data = np.loadtxt(os.path.join(ARGS.source_dir, "tests", "data", name),
                      delimiter=",", dtype=np.float64, ndmin=2)
    return data[:, 1:].astype(np.float32), data[:, 0]


class PythonClientTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = server_process.start_for_test_class(cls, ARGS.server)
        cls.client = streamfit.Client(
            cls.server.address, timeout=RPC_TIMEOUT,
            options=[("grpc.enable_http_proxy", 0)])
        cls.addClassCleanup(cls.client.close)
        cls.X, cls.y = read_csv("breast_cancer.bin.csv")

    def assert_error(self, code, call, *args, **kwargs):
        with self.assertRaises(streamfit.StreamfitError) as raised:
            call(*args, **kwargs)
        self.assertEqual(raised.exception.code, code, str(raised.exception))
        return raised.exception

    def test_observes_numpy_and_predicts_at_the_returned_version(self):
        info = self.client.create_model("cancer", task="binary",
                                        num_features=30)
        self.assertEqual(info.config.task, streamfit.pb2.TASK_BINARY)
        acked = []
        version = self.client.observe("cancer", self.X, self.y, batch_size=50,
                                      progress=acked.append)
        self.assertEqual(version, 569)
        self.assertEqual(acked[-1], 569)
        self.assertEqual(len(acked), 12)  # ceil(569 / 50) acks
        p = self.client.predict("cancer", self.X, min_version=version,
                                batch_size=100)
        self.assertEqual(p.shape, (569,))
        self.assertEqual(p.dtype, np.float64)
        self.assertGreater(np.mean((p > 0.5) == (self.y == 1)), 0.9)
        proba = self.client.predict_proba("cancer", self.X[:3])
        np.testing.assert_allclose(proba[:, 1], p[:3])
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        info = self.client.get_model("cancer")
        self.assertEqual(info.model_version, 569)
        self.assertIn("cancer", [m.name for m in self.client.list_models()])

    def test_iterable_rows_learn_the_same_model_as_an_array(self):
        self.client.create_model("from_array", task="binary", num_features=30)
        self.client.create_model("from_rows", task="binary", num_features=30)
        self.client.observe("from_array", self.X, self.y, batch_size=1000)
        rows = (list(map(float, row)) for row in self.X)  # a generator
        labels = (float(v) for v in self.y)
        version = self.client.observe("from_rows", rows, labels, batch_size=7,
                                      max_in_flight=2)
        self.assertEqual(version, 569)
        np.testing.assert_array_equal(
            self.client.predict("from_rows", self.X, min_version=569),
            self.client.predict("from_array", self.X, min_version=569))

    def test_config_settings_reach_the_model(self):
        info = self.client.create_model(
            "configured", task="multiclass", num_features=4, num_classes=3,
            optimizer="adagrad", loss="softmax", l1=0.001, l2=0.01,
            learning_rate=0.2, hash_bits=12, interactions=["a:b", ("c", "c")],
            class_weights=[1, 2, 3], drift_policy="retrain",
            policies={"batch_gap_every": 5000, "retrain_samples": 2000})
        config = info.config
        self.assertEqual(config.optimizer, streamfit.pb2.OPTIMIZER_ADAGRAD)
        self.assertEqual(config.loss, streamfit.pb2.LOSS_SOFTMAX)
        self.assertAlmostEqual(config.l2, 0.01)
        self.assertAlmostEqual(config.learning_rate, 0.2)
        self.assertEqual(config.hash_bits, 12)
        self.assertEqual([(i.first, i.second) for i in config.interactions],
                         [("a", "b"), ("c", "c")])
        self.assertEqual(list(config.class_weights), [1, 2, 3])
        self.assertEqual(config.drift_policy, streamfit.pb2.DRIFT_POLICY_RETRAIN)
        self.assertEqual(config.policies.batch_gap_every, 5000)
        self.assertEqual(config.policies.retrain_samples, 2000)
        self.assertEqual(config.policies.batch_gap_window, 10000)  # default
        X = np.eye(3, 4, dtype=np.float32)
        self.client.observe("configured", X, [0, 1, 2])
        proba = self.client.predict_proba("configured", X, min_version=3)
        self.assertEqual(proba.shape, (3, 3))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)

    def test_bad_settings_are_refused_before_any_call(self):
        with self.assertRaisesRegex(TypeError, "no setting 'l3'"):
            self.client.create_model("bad", num_features=2, l3=1.0)
        with self.assertRaisesRegex(ValueError, "optimizer='newton'"):
            self.client.create_model("bad", num_features=2,
                                     optimizer="newton")
        self.assert_error(grpc.StatusCode.NOT_FOUND, self.client.get_model,
                          "bad")

    def test_server_errors_carry_code_message_and_acked_count(self):
        self.client.create_model("narrow", num_features=3)
        error = self.assert_error(grpc.StatusCode.ALREADY_EXISTS,
                                  self.client.create_model, "narrow",
                                  num_features=3)
        self.assertIn("narrow", error.message)
        X = np.ones((10, 3), np.float32)
        X[7, 1] = np.nan
        error = self.assert_error(grpc.StatusCode.INVALID_ARGUMENT,
                                  self.client.observe, "narrow", X,
                                  np.zeros(10), batch_size=5)
        self.assertEqual(error.accepted, 5)
        self.assertIn("NaN", error.message)
        # Acked means durable and queued: applied once Predict sees it.
        self.client.predict("narrow", X[:1], min_version=5)
        self.assertEqual(self.client.get_model("narrow").model_version, 5)
        self.assert_error(grpc.StatusCode.NOT_FOUND, self.client.observe,
                          "no-such-model", X[:2], [0, 0])
        self.assert_error(grpc.StatusCode.NOT_FOUND, self.client.predict,
                          "no-such-model", X[:2])
        error = self.assert_error(grpc.StatusCode.DEADLINE_EXCEEDED,
                                  self.client.predict, "narrow", X[:1],
                                  min_version=1000, timeout=0.5)
        self.assertTrue(str(error).startswith("DEADLINE_EXCEEDED: "))

    def test_mismatched_lengths_are_value_errors(self):
        self.client.create_model("lengths", num_features=3)
        with self.assertRaisesRegex(ValueError, "y has fewer values"):
            self.client.observe("lengths", np.ones((4, 3)), [1, 2, 3])
        with self.assertRaisesRegex(ValueError, "weights has more values"):
            self.client.observe("lengths", np.ones((2, 3)), [1, 2],
                                weights=[1, 1, 1])
        with self.assertRaisesRegex(ValueError, "must be 2-D"):
            self.client.predict("lengths", np.ones(3))

    def test_snapshot_and_restore_roll_back(self):
        self.client.create_model("rollback", task="binary", num_features=30)
        self.client.observe("rollback", self.X[:300], self.y[:300])
        # observe returns once the samples are durable and queued; Predict
        # with min_version waits until they are applied.
        before = self.client.predict("rollback", self.X[:20], min_version=300)
        snap = self.client.snapshot("rollback")
        self.assertEqual(snap.model_version, 300)
        self.client.observe("rollback", self.X[300:], self.y[300:])
        info = self.client.restore("rollback", snap)
        self.assertEqual(info.model_version, 300)
        np.testing.assert_array_equal(
            self.client.predict("rollback", self.X[:20]), before)

    def test_snapshots_saved_on_the_server_by_name(self):
        self.client.create_model("saved", task="binary", num_features=30)
        self.client.observe("saved", self.X[:100], self.y[:100])
        # Applied, not only durable, before the snapshot.
        self.client.predict("saved", self.X[:1], min_version=100)
        self.client.snapshot("saved", to_file="saved-100")
        self.assertEqual([(s.name, s.model_version)
                          for s in self.client.list_snapshots("saved")],
                         [("saved-100", 100)])
        self.client.observe("saved", self.X[100:], self.y[100:])
        info = self.client.restore("saved", "saved-100")
        self.assertEqual(info.model_version, 100)
        self.assertEqual(info.lineage[-1].event, streamfit.pb2.LINEAGE_RESTORED)
        self.assertEqual(info.lineage[-1].snapshot_name, "saved-100")
        self.assertEqual(info.lifetime_metrics.samples_seen, len(self.y))
        self.assertEqual(info.metrics_since_lineage.samples_seen, 0)
        self.client.delete_snapshot("saved-100")
        self.assert_error(grpc.StatusCode.NOT_FOUND, self.client.restore,
                          "saved", "saved-100")

    def test_upload_and_retrain_with_progress(self):
        self.client.create_model("diabetes", num_features=10)
        sent = []
        dataset = self.client.upload_dataset(
            os.path.join(ARGS.source_dir, "tests", "data",
                         "diabetes.reg.csv"),
            progress=lambda done, total: sent.append((done, total)),
            chunk_size=4096)
        self.assertEqual(dataset.rows, 442)
        self.assertEqual(sent[-1][0], sent[-1][1])
        self.assertEqual(sent[-1][1], dataset.bytes)
        self.assertGreater(len(sent), 1)
        updates = []
        job = self.client.retrain("diabetes", dataset.id,
                                  algorithm="least_squares",
                                  swap_policy="always", progress=updates.append,
                                  timeout=60)
        self.assertEqual(job.state, streamfit.pb2.RETRAIN_SUCCEEDED, job.error)
        self.assertTrue(job.swapped)
        self.assertGreaterEqual(len(updates), 2)
        self.assertEqual(updates[-1].state, streamfit.pb2.RETRAIN_SUCCEEDED)
        self.assertEqual(self.client.get_job(job.id).state,
                         streamfit.pb2.RETRAIN_SUCCEEDED)
        lineage = self.client.get_model("diabetes").lineage
        self.assertEqual([e.event for e in lineage],
                         [streamfit.pb2.LINEAGE_CREATED,
                          streamfit.pb2.LINEAGE_RETRAINED])
        self.assertEqual((lineage[1].job_id, lineage[1].dataset_id,
                          lineage[1].algorithm),
                         (job.id, dataset.id, "least_squares"))
        self.assertIn(job.id, [j.id for j in self.client.list_jobs()])
        self.assertIn(dataset.id, [d.id for d in self.client.list_datasets()])
        self.client.delete_dataset(dataset.id)
        self.assert_error(grpc.StatusCode.NOT_FOUND,
                          self.client.delete_dataset, dataset.id)

    def test_past_predictions_gap_recent_retrain_and_watch(self):
        self.client.create_model("past", task="binary", num_features=30)
        first = self.client.observe("past", self.X[:300], self.y[:300])
        then = self.client.predict("past", self.X[:5], min_version=first)
        last = self.client.observe("past", self.X[300:], self.y[300:])
        self.client.predict("past", self.X[:1], min_version=last)
        # The state at `first`, rebuilt: the same bits as then.
        again = self.client.predict("past", self.X[:5], at_version=first)
        np.testing.assert_array_equal(again, then)
        self.assert_error(grpc.StatusCode.OUT_OF_RANGE, self.client.predict,
                          "past", self.X[:5], at_version=10**9)

        gap = self.client.measure_batch_gap("past", window=200)
        self.assertEqual((gap.from_version, gap.to_version), (369, 569))
        self.assertEqual(gap.algorithm, "lbfgs")
        self.assertLess(gap.batch_loss, gap.online_loss)
        self.assertEqual(self.client.get_model("past").batch_gap, gap)

        # A watch sees a retrain on the model's own recent samples.
        events = self.client.watch_model("past", timeout=60)
        job = self.client.retrain("past", "", recent_samples=400,
                                  algorithm="lbfgs", timeout=60)
        self.assertEqual(job.state, streamfit.pb2.RETRAIN_SUCCEEDED, job.error)
        self.assertEqual(job.metrics.train_rows, 400)
        kinds = []
        for event in events:
            kinds.append(event.kind)
            if event.kind == streamfit.pb2.ModelEvent.RETRAIN_FINISHED:
                break
        events.cancel()
        self.assertEqual(kinds[-3:],
                         [streamfit.pb2.ModelEvent.RETRAIN_STARTED,
                          streamfit.pb2.ModelEvent.RETRAIN_SWAPPED,
                          streamfit.pb2.ModelEvent.RETRAIN_FINISHED])

    def test_named_features_hashed_here_learn_as_the_named_ones(self):
        user = streamfit.HashedNamespace("user")
        item = streamfit.HashedNamespace("item")
        rng = np.random.default_rng(5)
        named, hashed = [], []
        for _ in range(500):
            u, i = f"u{rng.integers(20)}", f"i{rng.integers(30)}"
            label = float(rng.normal())
            for examples in (named, hashed):
                examples.append(streamfit.pb2.Example(label=label))
                examples[-1].features.dense.append(1.0)
            named[-1].features.named.add(namespace="user", name=u)
            named[-1].features.named.add(namespace="item", name=i, value=0.5)
            user.add(hashed[-1].features, u)
            item.add(hashed[-1].features, i, 0.5)
        for name, examples in (("named", named), ("hashed", hashed)):
            self.client.create_model(name, task="regression", num_features=1,
                                     hash_bits=12, interactions=["user:item"])
            self.assertEqual(self.client.observe_examples(
                name, examples, batch_size=64), 500)
            self.client.predict(name, [[1.0]], min_version=500)  # applied
        a, b = self.client.snapshot("named"), self.client.snapshot("hashed")
        self.assertEqual(b.model_version, 500)
        self.assertEqual(a.state, b.state)
        self.assertEqual(a.metrics, b.metrics)
        self.assertGreater(a.metrics.samples_seen, 0)

    def test_challengers_beside_a_model_and_a_promotion(self):
        self.client.create_model("slot", task="binary", num_features=30,
                                 policies={"promote_window": 256})
        first = self.client.observe("slot", self.X[:100], self.y[:100])
        added = self.client.add_challenger("slot", "ada", optimizer="adagrad",
                                           l2=1e-4)
        self.assertEqual((added.name, added.start_version), ("ada", first))
        self.assertEqual(added.config.optimizer,
                         streamfit.pb2.OPTIMIZER_ADAGRAD)
        self.assertEqual(added.config.policies.promote_window, 256)
        self.assert_error(grpc.StatusCode.ALREADY_EXISTS,
                          self.client.add_challenger, "slot", "ada")
        last = self.client.observe("slot", self.X[100:], self.y[100:])
        self.client.predict("slot", self.X[:1], min_version=last)
        listed = self.client.list_challengers("slot").challengers
        self.assertEqual([c.name for c in listed], ["ada"])
        self.assertEqual(listed[0].metrics.samples_seen, last - first)
        self.assertEqual(listed[0].comparison.window_samples, 256)
        self.assertEqual(self.client.get_model("slot").challengers, listed)
        early = self.client.add_challenger("slot", "early", from_version=first,
                                           optimizer="adagrad", l2=1e-4)
        self.assertEqual((early.start_version, early.metrics),
                         (first, listed[0].metrics))
        self.client.remove_challenger("slot", "early")

        info = self.client.promote_challenger("slot", "ada")
        self.assertEqual(info.model_version, last)
        self.assertEqual(info.config.optimizer,
                         streamfit.pb2.OPTIMIZER_ADAGRAD)
        self.assertEqual(info.lineage[-1].event,
                         streamfit.pb2.LINEAGE_PROMOTED)
        self.assertEqual(len(info.challengers), 0)
        self.client.add_challenger("slot", "sgd", optimizer="sgd")
        self.client.remove_challenger("slot", "sgd")
        self.assert_error(grpc.StatusCode.NOT_FOUND,
                          self.client.remove_challenger, "slot", "sgd")


def main():
    global ARGS, streamfit
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True,
                        help="the streamfit-server binary")
    parser.add_argument("--source_dir", required=True,
                        help="the repository root")
    parser.add_argument("--protoc", default="")
    parser.add_argument("--grpc_python_plugin", default="")
    ARGS, rest = parser.parse_known_args()
    with tempfile.TemporaryDirectory(prefix="streamfit-pip-") as target:
        sys.path.insert(0, install_package(target))
        import streamfit as package  # pylint: disable=import-outside-toplevel
        streamfit = package
        program = unittest.main(argv=[sys.argv[0]] + rest, exit=False)
    sys.exit(not program.result.wasSuccessful())


if __name__ == "__main__":
    main()
