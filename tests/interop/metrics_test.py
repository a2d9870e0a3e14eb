"""Metrics test: scrapes /metrics of a real streamfit-server child process
over HTTP while samples are observed, and checks that every metric the
Grafana dashboard (deploy/k8s/grafana-dashboard.json) queries is exported.

usage: metrics_test.py --server=BINARY --stubs=DIR --source_dir=DIR
       [unittest args]
"""

import argparse
import json
import os
import re
import unittest
import urllib.request

import grpc

import server_process

ARGS = None  # set in main
pb2 = None
pb2_grpc = None

RPC_TIMEOUT = 30
_METRICS_PORT = re.compile(r"metrics_port=(\d+)")
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def parse(text):
    """The exposition text as ({(name, labels): value}, {family: type})."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
        elif line and not line.startswith("#"):
            match = _SAMPLE.match(line)
            if match:
                samples[(match.group(1), match.group(2) or "")] = float(
                    match.group(3))
    return samples, types


class MetricsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = server_process.start_for_test_class(
            cls, ARGS.server, ["--metrics_address=127.0.0.1:0"])
        cls.metrics_port = int(
            _METRICS_PORT.search(cls.server.output()).group(1))
        cls.channel = grpc.insecure_channel(
            cls.server.address, options=[("grpc.enable_http_proxy", 0)])
        cls.addClassCleanup(cls.channel.close)
        cls.stub = pb2_grpc.LearnerStub(cls.channel)

    def scrape(self):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{self.metrics_port}/metrics",
                         timeout=RPC_TIMEOUT) as response:
            self.assertEqual(response.status, 200)
            return parse(response.read().decode())

    def observe(self, model, n):
        examples = [pb2.Example(features=pb2.Features(dense=[float(i), 1.0]),
                                label=float(i % 2)) for i in range(n)]
        return self.stub.Observe(
            iter([pb2.ObserveRequest(model=model, examples=examples)]),
            timeout=RPC_TIMEOUT)

    def test_counters_move_as_samples_are_observed(self):
        self.stub.CreateModel(pb2.CreateModelRequest(
            name="scraped", config=pb2.ModelConfig(
                task=pb2.TASK_BINARY, num_features=2)), timeout=RPC_TIMEOUT)
        model = '{model="scraped"}'
        observe_ok = ('{code="OK",method="Observe",'
                      'service="streamfit.v1.Learner"}')
        before, _ = self.scrape()
        self.assertEqual(
            before[("streamfit_model_samples_admitted_total", model)], 0)
        calls_before = before.get(("streamfit_rpc_requests_total",
                                   observe_ok), 0)
        response = self.observe("scraped", 50)
        # Predict with min_version: the published state has every sample.
        self.stub.Predict(pb2.PredictRequest(
            model="scraped", min_version=response.model_version,
            features=[pb2.Features(dense=[1, 1])]),
            timeout=RPC_TIMEOUT)
        after, types = self.scrape()
        self.assertEqual(
            after[("streamfit_model_samples_admitted_total", model)], 50)
        self.assertEqual(
            after[("streamfit_model_samples_applied_total", model)], 50)
        self.assertEqual(after[("streamfit_model_version", model)], 50)
        self.assertEqual(
            after[("streamfit_rpc_requests_total", observe_ok)],
            calls_before + 1)
        self.assertEqual(types["streamfit_rpc_duration_seconds"], "histogram")
        self.assertGreaterEqual(after[(
            "streamfit_rpc_duration_seconds_count",
            '{method="Observe",service="streamfit.v1.Learner"}')], 1)
        self.assertGreater(
            after[("streamfit_learner_queue_capacity_samples", model)], 0)
        self.assertIn(("streamfit_model_progressive_accuracy",
                       '{model="scraped",window="recent"}'), after)
        self.assertGreater(after[("process_resident_memory_bytes", "")], 0)
        self.assertEqual(types["streamfit_model_samples_applied_total"],
                         "counter")

    def test_errors_are_counted_by_code(self):
        code = ('{code="NOT_FOUND",method="GetModel",'
                'service="streamfit.v1.Learner"}')
        before, _ = self.scrape()
        with self.assertRaises(grpc.RpcError):
            self.stub.GetModel(pb2.GetModelRequest(name="absent"),
                               timeout=RPC_TIMEOUT)
        after, _ = self.scrape()
        self.assertEqual(after[("streamfit_rpc_requests_total", code)],
                         before.get(("streamfit_rpc_requests_total", code), 0)
                         + 1)

    def test_a_refused_observe_is_counted_by_model_and_reason(self):
        self.stub.CreateModel(pb2.CreateModelRequest(
            name="refusing", config=pb2.ModelConfig(
                task=pb2.TASK_REGRESSION, num_features=2)),
            timeout=RPC_TIMEOUT)
        examples = [pb2.Example(features=pb2.Features(dense=[1.0, v]),
                                label=1.0) for v in (2.0, float("nan"), 3.0)]
        with self.assertRaises(grpc.RpcError) as refused:
            self.stub.Observe(iter([pb2.ObserveRequest(
                model="refusing", examples=examples)]), timeout=RPC_TIMEOUT)
        self.assertEqual(refused.exception.code(),
                         grpc.StatusCode.INVALID_ARGUMENT)
        after, types = self.scrape()
        self.assertEqual(after[(
            "streamfit_model_requests_refused_total",
            '{model="refusing",method="Observe",reason="invalid_argument"}')],
            1)
        self.assertEqual(after[(
            "streamfit_model_samples_refused_total",
            '{model="refusing",reason="invalid_argument"}')], 3)
        self.assertEqual(types["streamfit_model_requests_refused_total"],
                         "counter")
        self.assertEqual(after[("streamfit_model_publish_lag_seconds",
                                '{model="refusing"}')], 0)

    def test_retrain_job_durations_are_a_histogram(self):
        self.stub.CreateModel(pb2.CreateModelRequest(
            name="retrained", config=pb2.ModelConfig(
                task=pb2.TASK_REGRESSION, num_features=2)),
            timeout=RPC_TIMEOUT)
        csv = "".join(f"{2 * i + 1},{i},{i % 3}\n" for i in range(50))
        dataset = self.stub.UploadDataset(iter([pb2.UploadDatasetRequest(
            data=csv.encode())]), timeout=RPC_TIMEOUT)
        count = ("streamfit_retrain_job_duration_seconds_count",
                 '{state="RETRAIN_SUCCEEDED"}')
        before, _ = self.scrape()
        job = self.stub.Retrain(pb2.RetrainRequest(
            model="retrained", dataset_id=dataset.id,
            algorithm="least_squares"), timeout=RPC_TIMEOUT)
        for job in self.stub.WatchRetrainJob(
                pb2.GetRetrainJobRequest(id=job.id), timeout=RPC_TIMEOUT):
            pass
        self.assertEqual(job.state, pb2.RETRAIN_SUCCEEDED)
        after, types = self.scrape()
        self.assertEqual(types["streamfit_retrain_job_duration_seconds"],
                         "histogram")
        self.assertEqual(after[count], before[count] + 1)
        self.assertEqual(after[(
            "streamfit_retrain_job_duration_seconds_bucket",
            '{state="RETRAIN_SUCCEEDED",le="+Inf"}')], after[count])

    def test_every_metric_the_dashboard_queries_is_exported(self):
        path = os.path.join(ARGS.source_dir, "deploy", "k8s",
                            "grafana-dashboard.json")
        with open(path) as f:
            dashboard = json.load(f)
        queried = set()
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                queried.update(re.findall(
                    r"\b((?:streamfit|process)_[a-z0-9_]+)", target["expr"]))
        self.assertGreater(len(queried), 10)
        self.stub.ListModels(pb2.ListModelsRequest(), timeout=RPC_TIMEOUT)
        samples, types = self.scrape()
        exported = {name for name, _ in samples} | set(types)
        for name in sorted(queried):
            with self.subTest(metric=name):
                self.assertIn(name, exported)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--stubs", required=True)
    parser.add_argument("--source_dir", required=True)
    server_process.run_tests(parser, globals(), server_process.LEARNER_STUBS)


if __name__ == "__main__":
    main()
