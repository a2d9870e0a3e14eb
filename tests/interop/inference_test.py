"""Interop test: an Open Inference Protocol (KServe v2 / Triton) Python client,
stubs generated from proto/inference/grpc_service.proto, against a real
streamfit-server child process. Every RPC is called; ModelInfer typed and raw,
FP32 and FP64, is compared with streamfit.v1 Predict on the same rows.

usage: inference_test.py --server=BINARY --stubs=DIR [unittest args]
"""

import argparse
import unittest

import grpc
import numpy as np

import server_process

ARGS = None  # set in main
pb2 = None  # streamfit.v1.streamfit_pb2
pb2_grpc = None
infer_pb2 = None  # inference.grpc_service_pb2
infer_grpc = None

RPC_TIMEOUT = 30  # seconds, every call

ROWS = np.array([[0.5, -1.0, 2.0, 0.0], [3.0, 0.0, 1.0, -2.5],
                 [-4.0, 2.25, 1.0, 7.0]], dtype=np.float32)


def infer_request(model, rows, datatype, raw, outputs=()):
    request = infer_pb2.ModelInferRequest(model_name=model, id="py-1")
    tensor = request.inputs.add(name="features", datatype=datatype,
                                shape=list(rows.shape))
    values = rows.astype("<f4" if datatype == "FP32" else "<f8")
    if raw:
        request.raw_input_contents.append(values.tobytes())
    elif datatype == "FP32":
        tensor.contents.fp32_contents.extend(values.ravel().tolist())
    else:
        tensor.contents.fp64_contents.extend(values.ravel().tolist())
    for name in outputs:
        request.outputs.add(name=name)
    return request


def output_array(response, index):
    """Output `index` of a ModelInferResponse as a float64 array, shaped."""
    tensor = response.outputs[index]
    if response.raw_output_contents:
        flat = np.frombuffer(response.raw_output_contents[index], dtype="<f8")
    else:
        flat = np.array(tensor.contents.fp64_contents, dtype=np.float64)
    return flat.reshape(tuple(tensor.shape))


class InferenceInteropTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = server_process.start_for_test_class(cls, ARGS.server)
        cls.channel = server_process.connect_for_test_class(
            cls, cls.server.address, RPC_TIMEOUT)
        cls.learner = pb2_grpc.LearnerStub(cls.channel)
        cls.inference = infer_grpc.GRPCInferenceServiceStub(cls.channel)
        cls.learner.CreateModel(pb2.CreateModelRequest(
            name="flowers", config=pb2.ModelConfig(
                task=pb2.TASK_MULTICLASS, num_features=4, num_classes=3)),
            timeout=RPC_TIMEOUT)
        rng = np.random.default_rng(7)
        X = rng.normal(size=(300, 4)).astype(np.float32)
        y = np.argmax(X[:, :3], axis=1)
        cls.learner.Observe(iter([pb2.ObserveRequest(
            model="flowers", dense_batch=pb2.DenseBatch(
                num_features=4, values=X.ravel().tolist(),
                labels=y.tolist()))]), timeout=RPC_TIMEOUT)

    def predict(self, model, rows):
        return self.learner.Predict(pb2.PredictRequest(
            model=model, dense_batch=pb2.DenseBatch(
                num_features=rows.shape[1], values=rows.ravel().tolist())),
            timeout=RPC_TIMEOUT)

    def assert_rpc_error(self, code, call, request):
        with self.assertRaises(grpc.RpcError) as raised:
            call(request, timeout=RPC_TIMEOUT)
        self.assertEqual(raised.exception.code(), code,
                         raised.exception.details())
        return raised.exception.details()

    def test_health_and_metadata(self):
        self.assertTrue(self.inference.ServerLive(
            infer_pb2.ServerLiveRequest(), timeout=RPC_TIMEOUT).live)
        self.assertTrue(self.inference.ServerReady(
            infer_pb2.ServerReadyRequest(), timeout=RPC_TIMEOUT).ready)
        self.assertTrue(self.inference.ModelReady(
            infer_pb2.ModelReadyRequest(name="flowers"),
            timeout=RPC_TIMEOUT).ready)
        self.assertFalse(self.inference.ModelReady(
            infer_pb2.ModelReadyRequest(name="no-such-model"),
            timeout=RPC_TIMEOUT).ready)
        server = self.inference.ServerMetadata(
            infer_pb2.ServerMetadataRequest(), timeout=RPC_TIMEOUT)
        self.assertEqual(server.name, "streamfit")
        meta = self.inference.ModelMetadata(
            infer_pb2.ModelMetadataRequest(name="flowers"),
            timeout=RPC_TIMEOUT)
        self.assertEqual(list(meta.versions), ["300"])
        self.assertEqual([(t.name, t.datatype, list(t.shape))
                          for t in meta.inputs],
                         [("features", "FP32", [-1, 4])])
        self.assertEqual([(t.name, t.datatype, list(t.shape))
                          for t in meta.outputs],
                         [("predictions", "FP64", [-1]),
                          ("probabilities", "FP64", [-1, 3])])

    def test_infer_equals_predict_typed_and_raw(self):
        expected = self.predict("flowers", ROWS)
        values = np.array([p.value for p in expected.predictions])
        scores = np.array([list(p.scores) for p in expected.predictions])
        for datatype in ("FP32", "FP64"):
            for raw in (False, True):
                with self.subTest(datatype=datatype, raw=raw):
                    response = self.inference.ModelInfer(
                        infer_request("flowers", ROWS, datatype, raw),
                        timeout=RPC_TIMEOUT)
                    self.assertEqual(response.model_version,
                                     str(expected.model_version))
                    self.assertEqual(response.id, "py-1")
                    self.assertEqual(len(response.raw_output_contents),
                                     2 if raw else 0)
                    np.testing.assert_array_equal(output_array(response, 0),
                                                  values)
                    np.testing.assert_array_equal(output_array(response, 1),
                                                  scores)

    def test_requested_outputs_only(self):
        response = self.inference.ModelInfer(
            infer_request("flowers", ROWS, "FP32", True,
                          outputs=["probabilities"]), timeout=RPC_TIMEOUT)
        self.assertEqual([o.name for o in response.outputs],
                         ["probabilities"])
        self.assertEqual(output_array(response, 0).shape, (3, 3))

    def test_bad_requests_name_the_field(self):
        details = self.assert_rpc_error(
            grpc.StatusCode.INVALID_ARGUMENT, self.inference.ModelInfer,
            infer_request("flowers", ROWS[:, :3], "FP32", False))
        self.assertIn("inputs[0].shape", details)
        request = infer_request("flowers", ROWS, "FP32", True)
        request.inputs[0].datatype = "INT32"
        self.assertIn("inputs[0].datatype", self.assert_rpc_error(
            grpc.StatusCode.INVALID_ARGUMENT, self.inference.ModelInfer,
            request))
        request = infer_request("flowers", ROWS, "FP32", True)
        request.raw_input_contents[0] = request.raw_input_contents[0][:-4]
        self.assertIn("raw_input_contents[0]", self.assert_rpc_error(
            grpc.StatusCode.INVALID_ARGUMENT, self.inference.ModelInfer,
            request))
        self.assertIn("outputs[0].name", self.assert_rpc_error(
            grpc.StatusCode.INVALID_ARGUMENT, self.inference.ModelInfer,
            infer_request("flowers", ROWS, "FP32", False,
                          outputs=["scores"])))
        self.assert_rpc_error(
            grpc.StatusCode.NOT_FOUND, self.inference.ModelInfer,
            infer_request("no-such-model", ROWS, "FP32", False))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True,
                        help="the streamfit-server binary")
    parser.add_argument("--stubs", required=True,
                        help="directory holding the generated *_pb2*.py")
    stubs = {**server_process.LEARNER_STUBS,
             "infer_pb2": "inference.grpc_service_pb2",
             "infer_grpc": "inference.grpc_service_pb2_grpc"}
    server_process.run_tests(parser, globals(), stubs)


if __name__ == "__main__":
    main()
