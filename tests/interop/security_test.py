"""Security test: TLS, mutual TLS, bearer tokens and roles, certificate and
token rotation on SIGHUP, and the loopback-only default, against real
streamfit-server child processes on loopback. Certificates are made with
`openssl` for each run (certs.py).

usage: security_test.py --server=BINARY --cli=BINARY --stubs=DIR
       [unittest args]
"""

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import grpc

import certs
import server_process

ARGS = None  # set in main
pb2 = None  # streamfit.v1.streamfit_pb2, imported in main
pb2_grpc = None

RPC_TIMEOUT = 10  # seconds, every call
ROTATION_TIMEOUT = 30  # seconds for a SIGHUP rotation to reach new handshakes
CHANNEL_OPTIONS = [("grpc.enable_http_proxy", 0)]
ROLES = ["predictor", "observer", "operator", "admin"]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def sha256_hex(token):
    return hashlib.sha256(token.encode()).hexdigest()


def health_status(channel, service="streamfit.v1.Learner", metadata=None):
    """grpc.health.v1.Health/Check over `channel` without generated stubs:
    returns the ServingStatus number (1 SERVING, 2 NOT_SERVING)."""
    check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                request_serializer=lambda b: b,
                                response_deserializer=lambda b: b)
    name = service.encode()
    request = bytes([0x0A, len(name)]) + name if name else b""
    response = check(request, timeout=RPC_TIMEOUT, metadata=metadata)
    return response[1] if len(response) >= 2 and response[0] == 0x08 else 0


def call_every_rpc(stub, metadata):
    """Calls each Learner RPC once with harmless arguments (unknown names,
    invalid configs: nothing changes) and returns {method: status code}."""

    def code_of(thunk):
        try:
            thunk()
            return grpc.StatusCode.OK
        except grpc.RpcError as error:
            return error.code()

    kw = {"timeout": RPC_TIMEOUT, "metadata": metadata}
    observe = [pb2.ObserveRequest(model="no-such-model")]
    upload = [pb2.UploadDatasetRequest(data=b"")]
    calls = {
        "Predict": lambda: stub.Predict(
            pb2.PredictRequest(model="no-such-model"), **kw),
        "GetModel": lambda: stub.GetModel(
            pb2.GetModelRequest(name="no-such-model"), **kw),
        "ListModels": lambda: stub.ListModels(pb2.ListModelsRequest(), **kw),
        "Observe": lambda: stub.Observe(iter(observe), **kw),
        "ObserveStream": lambda: list(stub.ObserveStream(iter(observe), **kw)),
        "Snapshot": lambda: stub.Snapshot(
            pb2.SnapshotRequest(model="no-such-model"), **kw),
        "UploadDataset": lambda: stub.UploadDataset(iter(upload), **kw),
        "ListDatasets": lambda: stub.ListDatasets(
            pb2.ListDatasetsRequest(), **kw),
        "DeleteDataset": lambda: stub.DeleteDataset(
            pb2.DeleteDatasetRequest(id="ds-none"), **kw),
        "Retrain": lambda: stub.Retrain(
            pb2.RetrainRequest(model="no-such-model", dataset_id="ds-none"),
            **kw),
        "GetRetrainJob": lambda: stub.GetRetrainJob(
            pb2.GetRetrainJobRequest(id="job-none"), **kw),
        "WatchRetrainJob": lambda: list(stub.WatchRetrainJob(
            pb2.GetRetrainJobRequest(id="job-none"), **kw)),
        "WatchModel": lambda: list(stub.WatchModel(
            pb2.WatchModelRequest(model="no-such-model"), **kw)),
        "CancelRetrainJob": lambda: stub.CancelRetrainJob(
            pb2.CancelRetrainJobRequest(id="job-none"), **kw),
        "ListRetrainJobs": lambda: stub.ListRetrainJobs(
            pb2.ListRetrainJobsRequest(), **kw),
        "CreateModel": lambda: stub.CreateModel(
            pb2.CreateModelRequest(name="bad name!"), **kw),
        "DeleteModel": lambda: stub.DeleteModel(
            pb2.DeleteModelRequest(name="no-such-model"), **kw),
        "Restore": lambda: stub.Restore(
            pb2.RestoreRequest(model="no-such-model"), **kw),
        "ListSnapshots": lambda: stub.ListSnapshots(
            pb2.ListSnapshotsRequest(), **kw),
        "DeleteSnapshot": lambda: stub.DeleteSnapshot(
            pb2.DeleteSnapshotRequest(name="no-such-snapshot"), **kw),
    }
    for method in ("ServerLive", "ServerReady", "ModelReady",
                   "ServerMetadata", "ModelMetadata", "ModelInfer"):
        # Open Inference Protocol calls with empty requests (raw bytes).
        call = stub.channel.unary_unary(
            f"/inference.GRPCInferenceService/{method}",
            request_serializer=lambda b: b, response_deserializer=lambda b: b)
        calls[method] = lambda call=call: call(b"", **kw)
    return {method: code_of(call) for method, call in calls.items()}


# The least role of each RPC: the contract the matrix test pins.
REQUIRED_ROLE = {
    "Predict": "predictor", "GetModel": "predictor", "ListModels": "predictor",
    "WatchModel": "predictor",
    "Observe": "observer", "ObserveStream": "observer",
    "Snapshot": "operator", "UploadDataset": "operator",
    "ListDatasets": "operator", "DeleteDataset": "operator",
    "Retrain": "operator", "GetRetrainJob": "operator",
    "WatchRetrainJob": "operator", "CancelRetrainJob": "operator",
    "ListRetrainJobs": "operator", "ListSnapshots": "operator",
    "CreateModel": "admin", "DeleteModel": "admin", "Restore": "admin",
    "DeleteSnapshot": "admin",
    "ServerLive": None, "ServerReady": None,
    "ModelReady": "predictor", "ServerMetadata": "predictor",
    "ModelMetadata": "predictor", "ModelInfer": "predictor",
}
AUTH_CODES = (grpc.StatusCode.UNAUTHENTICATED,
              grpc.StatusCode.PERMISSION_DENIED)


class TlsTokenTest(unittest.TestCase):
    """A TLS server with a token per role."""

    @classmethod
    def setUpClass(cls):
        work = tempfile.TemporaryDirectory(prefix="streamfit-security-")
        cls.addClassCleanup(work.cleanup)
        cls.dir = work.name
        cls.ca = certs.make_ca(cls.dir, "ca")
        cls.cert = certs.make_cert(cls.dir, "server", cls.ca, server=True)
        cls.tokens = {role: f"token-of-{role}-" + os.urandom(8).hex()
                      for role in ROLES}
        cls.tokens_file = os.path.join(cls.dir, "tokens")
        with open(cls.tokens_file, "w") as f:
            f.write("# role sha256 name\n")
            for role, token in cls.tokens.items():
                f.write(f"{role} {sha256_hex(token)} {role}-client\n")
        cls.cert_file = os.path.join(cls.dir, "tls.crt")
        cls.key_file = os.path.join(cls.dir, "tls.key")
        shutil.copy(cls.cert[0], cls.cert_file)
        shutil.copy(cls.cert[1], cls.key_file)
        cls.server = server_process.start_for_test_class(
            cls, ARGS.server,
            [f"--tls_cert_file={cls.cert_file}",
             f"--tls_key_file={cls.key_file}",
             f"--auth_tokens_file={cls.tokens_file}",
             f"--tls_runtime_dir={cls.dir}", "--log_format=json"])

    def channel(self, ca=None):
        credentials = grpc.ssl_channel_credentials(
            root_certificates=read(ca or self.ca[0]))
        channel = grpc.secure_channel(self.server.address, credentials,
                                      options=CHANNEL_OPTIONS)
        self.addCleanup(channel.close)
        return channel

    def test_every_rpc_by_credential_allows_exactly_the_roles_that_include_it(
            self):
        channel = self.channel()
        stub = pb2_grpc.LearnerStub(channel)
        stub.channel = channel
        credentials = {"no token": None, "wrong token": "not-a-token",
                       **{role: self.tokens[role] for role in ROLES}}
        for who, token in credentials.items():
            metadata = (None if token is None
                        else (("authorization", f"Bearer {token}"),))
            codes = call_every_rpc(stub, metadata)
            self.assertEqual(set(codes), set(REQUIRED_ROLE))
            for method, code in codes.items():
                with self.subTest(caller=who, method=method):
                    if REQUIRED_ROLE[method] is None:  # open
                        self.assertNotIn(code, AUTH_CODES)
                    elif token is None or who == "wrong token":
                        self.assertEqual(code,
                                         grpc.StatusCode.UNAUTHENTICATED)
                    elif ROLES.index(who) >= ROLES.index(
                            REQUIRED_ROLE[method]):
                        self.assertNotIn(code, AUTH_CODES)
                    else:
                        self.assertEqual(code,
                                         grpc.StatusCode.PERMISSION_DENIED)

    def test_health_and_reflection_are_open(self):
        channel = self.channel()
        self.assertEqual(health_status(channel), 1)
        self.assertEqual(
            health_status(channel,
                          metadata=(("authorization", "Bearer wrong"),)), 1)
        reflect = channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b)
        # ServerReflectionRequest{list_services: ""}
        responses = list(reflect(iter([b"\x3a\x00"]), timeout=RPC_TIMEOUT))
        self.assertEqual(len(responses), 1)
        self.assertIn(b"streamfit.v1.Learner", responses[0])

    def test_admin_actions_are_logged_with_role_and_never_a_token(self):
        stub = pb2_grpc.LearnerStub(self.channel())
        admin = (("authorization", f"Bearer {self.tokens['admin']}"),)
        stub.CreateModel(pb2.CreateModelRequest(
            name="audited", config=pb2.ModelConfig(
                task=pb2.TASK_REGRESSION, num_features=2)),
            timeout=RPC_TIMEOUT, metadata=admin)
        stub.DeleteModel(pb2.DeleteModelRequest(name="audited"),
                         timeout=RPC_TIMEOUT, metadata=admin)
        # The lines reach the pipe reader after the replies: wait for them.
        deadline = time.monotonic() + RPC_TIMEOUT
        while True:
            output = self.server.output()
            lines = [line for line in output.splitlines()
                     if '"model":"audited"' in line]
            if len(lines) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(len(lines), 2, output)
        self.assertIn('"event":"model.create"', lines[0])
        self.assertIn('"event":"model.delete"', lines[1])
        for line in lines:
            self.assertIn('"role":"admin"', line)
            self.assertIn('"principal":"admin-client"', line)
            self.assertIn('"peer":"ipv4:127.0.0.1:', line)
        for token in self.tokens.values():
            self.assertNotIn(token, output)

    def test_plaintext_clients_cannot_connect(self):
        channel = grpc.insecure_channel(self.server.address,
                                        options=CHANNEL_OPTIONS)
        self.addCleanup(channel.close)
        with self.assertRaises(grpc.RpcError) as raised:
            health_status(channel)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.UNAVAILABLE)

    def test_cli_speaks_tls_with_a_token_file(self):
        token_file = os.path.join(self.dir, "predictor.token")
        with open(token_file, "w") as f:
            f.write(self.tokens["predictor"] + "\n")
        common = [f"--server={self.server.address}",
                  f"--tls_ca_file={self.ca[0]}", "--timeout=10s"]
        run = lambda *args: subprocess.run(  # noqa: E731
            [ARGS.cli, *args, *common], capture_output=True, text=True,
            stdin=subprocess.DEVNULL, timeout=60,
            env=server_process_env())
        listed = run("models", f"--token_file={token_file}")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        denied = run("delete", "default", f"--token_file={token_file}")
        self.assertEqual(denied.returncode, 1)
        self.assertIn("PERMISSION_DENIED", denied.stderr)
        anonymous = run("models")
        self.assertEqual(anonymous.returncode, 1)
        self.assertIn("UNAUTHENTICATED", anonymous.stderr)
        self.assertEqual(run("health").returncode, 0)

    def test_sighup_rotates_the_certificate_and_the_tokens(self):
        # A new CA and certificate, and a new admin token, in the same files.
        new_ca = certs.make_ca(self.dir, "ca2")
        new_cert = certs.make_cert(self.dir, "server2", new_ca, server=True)
        new_token = "rotated-" + os.urandom(8).hex()
        with open(self.tokens_file, "a") as f:
            f.write(f"admin {sha256_hex(new_token)} rotated\n")
        shutil.copy(new_cert[1], self.key_file)
        shutil.copy(new_cert[0], self.cert_file)
        # Nothing changes until SIGHUP.
        self.assertEqual(health_status(self.channel()), 1)
        self.server._process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + ROTATION_TIMEOUT
        while True:
            try:
                self.assertEqual(health_status(self.channel(new_ca[0])), 1)
                break
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with self.assertRaises(grpc.RpcError) as raised:
            health_status(self.channel())  # trusts only the old CA
        self.assertEqual(raised.exception.code(), grpc.StatusCode.UNAVAILABLE)
        stub = pb2_grpc.LearnerStub(self.channel(new_ca[0]))
        stub.ListModels(pb2.ListModelsRequest(), timeout=RPC_TIMEOUT,
                        metadata=(("authorization", f"Bearer {new_token}"),))
        self.assertIn("server.credentials_reloaded", self.server.output())
        # Put the original files back for the other tests.
        shutil.copy(self.cert[1], self.key_file)
        shutil.copy(self.cert[0], self.cert_file)
        self.server._process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + ROTATION_TIMEOUT
        while True:
            try:
                self.assertEqual(health_status(self.channel()), 1)
                break
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def test_a_bad_rotation_keeps_the_certificate_in_service(self):
        with open(os.path.join(self.dir, "bad.crt"), "w") as f:
            f.write("not a certificate\n")
        original = read(self.cert_file)
        shutil.copy(os.path.join(self.dir, "bad.crt"), self.cert_file)
        try:
            self.server._process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + ROTATION_TIMEOUT
            while ("server.credentials_reload_failed"
                   not in self.server.output()):
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.1)
            self.assertEqual(health_status(self.channel()), 1)
        finally:
            with open(self.cert_file, "wb") as f:
                f.write(original)


def server_process_env():
    return {k: v for k, v in os.environ.items()
            if not k.lower().endswith("_proxy")}


class MutualTlsTest(unittest.TestCase):
    """A server that requires client certificates, one mapped to a role."""

    @classmethod
    def setUpClass(cls):
        work = tempfile.TemporaryDirectory(prefix="streamfit-mtls-")
        cls.addClassCleanup(work.cleanup)
        cls.dir = work.name
        cls.ca = certs.make_ca(cls.dir, "ca")
        cls.cert = certs.make_cert(cls.dir, "server", cls.ca, server=True)
        cls.client_ca = certs.make_ca(cls.dir, "client-ca")
        cls.operator = certs.make_cert(cls.dir, "ops-client", cls.client_ca,
                                       server=False)
        cls.stranger = certs.make_cert(cls.dir, "stranger", cls.client_ca,
                                       server=False)
        tokens_file = os.path.join(cls.dir, "tokens")
        with open(tokens_file, "w") as f:
            f.write("operator cn:ops-client\n")
        cls.server = server_process.start_for_test_class(
            cls, ARGS.server,
            [f"--tls_cert_file={cls.cert[0]}", f"--tls_key_file={cls.cert[1]}",
             f"--tls_client_ca_file={cls.client_ca[0]}",
             f"--auth_tokens_file={tokens_file}",
             f"--tls_runtime_dir={cls.dir}"])

    def stub(self, client=None):
        credentials = grpc.ssl_channel_credentials(
            root_certificates=read(self.ca[0]),
            private_key=read(client[1]) if client else None,
            certificate_chain=read(client[0]) if client else None)
        channel = grpc.secure_channel(self.server.address, credentials,
                                      options=CHANNEL_OPTIONS)
        self.addCleanup(channel.close)
        return pb2_grpc.LearnerStub(channel)

    def code_of(self, call):
        try:
            call()
            return grpc.StatusCode.OK
        except grpc.RpcError as error:
            return error.code()

    def test_a_mapped_certificate_gets_its_role(self):
        stub = self.stub(self.operator)
        self.assertEqual(self.code_of(lambda: stub.ListDatasets(
            pb2.ListDatasetsRequest(), timeout=RPC_TIMEOUT)),
            grpc.StatusCode.OK)
        self.assertEqual(self.code_of(lambda: stub.DeleteModel(
            pb2.DeleteModelRequest(name="default"), timeout=RPC_TIMEOUT)),
            grpc.StatusCode.PERMISSION_DENIED)

    def test_an_unmapped_certificate_is_unauthenticated(self):
        stub = self.stub(self.stranger)
        self.assertEqual(self.code_of(lambda: stub.ListModels(
            pb2.ListModelsRequest(), timeout=RPC_TIMEOUT)),
            grpc.StatusCode.UNAUTHENTICATED)

    def test_a_client_without_a_certificate_cannot_connect(self):
        stub = self.stub()
        self.assertEqual(self.code_of(lambda: stub.ListModels(
            pb2.ListModelsRequest(), timeout=RPC_TIMEOUT)),
            grpc.StatusCode.UNAVAILABLE)

    def test_cli_presents_its_certificate(self):
        result = subprocess.run(
            [ARGS.cli, "models", f"--server={self.server.address}",
             f"--tls_ca_file={self.ca[0]}",
             f"--tls_cert_file={self.operator[0]}",
             f"--tls_key_file={self.operator[1]}", "--timeout=10s"],
            capture_output=True, text=True, stdin=subprocess.DEVNULL,
            timeout=60, env=server_process_env())
        self.assertEqual(result.returncode, 0, result.stderr)


class SafeDefaultTest(unittest.TestCase):

    def start(self, *flags):
        with tempfile.TemporaryDirectory(prefix="streamfit-exposure-") as d:
            return subprocess.run(
                [ARGS.server, f"--data_dir={d}/data", *flags],
                capture_output=True, text=True, stdin=subprocess.DEVNULL,
                timeout=60)

    def test_a_non_loopback_address_without_tls_and_auth_is_refused(self):
        for address in ("0.0.0.0:0", "[::]:0", "10.1.2.3:50051"):
            with self.subTest(address=address):
                result = self.start(f"--address={address}")
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn("--allow_insecure_remote", result.stderr)

    def test_tokens_without_tls_are_refused(self):
        result = self.start("--address=127.0.0.1:0",
                            "--auth_tokens_file=/dev/null")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("needs TLS", result.stderr)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True,
                        help="the streamfit-server binary")
    parser.add_argument("--cli", required=True, help="the streamfit binary")
    parser.add_argument("--stubs", required=True,
                        help="directory of the generated Python stubs")
    server_process.run_tests(parser, globals(), server_process.LEARNER_STUBS)


if __name__ == "__main__":
    main()
