"""Interop test: a Python gRPC client (stubs generated from the same .proto)
against a real streamfit-server child process.

usage: interop_test.py --server=BINARY --stubs=DIR --source_dir=DIR
       [unittest args]
"""

import argparse
import math
import os
import unittest

import grpc

import server_process

ARGS = None  # set in main
pb2 = None  # streamfit.v1.streamfit_pb2, imported in main
pb2_grpc = None  # streamfit.v1.streamfit_pb2_grpc

RPC_TIMEOUT = 30  # seconds, every call


def read_csv(path):
    """A label-first CSV file as a list of (label, [features])."""
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                values = [float(v) for v in line.split(",")]
                rows.append((values[0], values[1:]))
    return rows


def observe_requests(model, rows, batch_size):
    """ObserveRequest messages carrying `rows`, the first naming the model."""
    for start in range(0, len(rows), batch_size):
        yield pb2.ObserveRequest(
            model=model if start == 0 else "",
            examples=[pb2.Example(features=pb2.Features(dense=features),
                                  label=label)
                      for label, features in rows[start:start + batch_size]])


class LearnerInteropTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = server_process.start_for_test_class(cls, ARGS.server)
        cls.channel = server_process.connect_for_test_class(
            cls, cls.server.address, RPC_TIMEOUT)
        cls.stub = pb2_grpc.LearnerStub(cls.channel)

    def create_model(self, name, task, num_features):
        return self.stub.CreateModel(
            pb2.CreateModelRequest(
                name=name,
                config=pb2.ModelConfig(task=task, num_features=num_features)),
            timeout=RPC_TIMEOUT)

    def assert_rpc_error(self, code, call, *args, **kwargs):
        """Runs call(*args, **kwargs), expecting it to fail with `code`;
        returns the error details."""
        with self.assertRaises(grpc.RpcError) as raised:
            call(*args, timeout=RPC_TIMEOUT, **kwargs)
        self.assertEqual(raised.exception.code(), code,
                         raised.exception.details())
        return raised.exception.details()

    def test_learns_breast_cancer_and_predicts(self):
        rows = read_csv(os.path.join(ARGS.source_dir, "tests", "data",
                                     "breast_cancer.bin.csv"))
        self.assertEqual(len(rows), 569)
        info = self.create_model("cancer", pb2.TASK_BINARY, 30)
        self.assertEqual(info.name, "cancer")
        self.assertEqual(info.model_version, 0)

        response = self.stub.Observe(observe_requests("cancer", rows, 100),
                                     timeout=RPC_TIMEOUT)
        self.assertEqual(response.accepted, 569)
        self.assertEqual(response.model_version, 569)

        some_rows = rows[:5]
        prediction = self.stub.Predict(
            pb2.PredictRequest(
                model="cancer",
                features=[pb2.Features(dense=f) for _, f in some_rows],
                min_version=569),
            timeout=RPC_TIMEOUT)
        self.assertEqual(prediction.model_version, 569)
        self.assertEqual(len(prediction.predictions), len(some_rows))
        for p in prediction.predictions:
            self.assertGreaterEqual(p.value, 0.0)
            self.assertLessEqual(p.value, 1.0)

        info = self.stub.GetModel(pb2.GetModelRequest(name="cancer"),
                                  timeout=RPC_TIMEOUT)
        self.assertEqual(info.model_version, 569)
        self.assertEqual(info.metrics.samples_seen, 569)
        self.assertGreater(info.metrics.progressive_accuracy, 0.9)

    def test_invalid_example_is_rejected_whole(self):
        self.create_model("invalid", pb2.TASK_BINARY, 3)
        rows = [(0, [1, 2, 3]), (1, [4, math.nan, 6]), (1, [7, 8, 9])]
        details = self.assert_rpc_error(
            grpc.StatusCode.INVALID_ARGUMENT, self.stub.Observe,
            observe_requests("invalid", rows, len(rows)))
        self.assertIn("example", details)
        info = self.stub.GetModel(pb2.GetModelRequest(name="invalid"),
                                  timeout=RPC_TIMEOUT)
        self.assertEqual(info.model_version, 0)

    def test_predict_on_unknown_model_is_not_found(self):
        self.assert_rpc_error(
            grpc.StatusCode.NOT_FOUND, self.stub.Predict,
            pb2.PredictRequest(model="no-such-model",
                               features=[pb2.Features(dense=[1.0])]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True,
                        help="the streamfit-server binary")
    parser.add_argument("--stubs", required=True,
                        help="directory holding streamfit/v1/*_pb2*.py")
    parser.add_argument("--source_dir", required=True,
                        help="the repository root (for tests/data)")
    server_process.run_tests(parser, globals(), server_process.LEARNER_STUBS)


if __name__ == "__main__":
    main()
