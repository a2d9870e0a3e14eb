"""Operations test: the command-line contract (--help, exit codes), the
structured logs and the health checks of a real streamfit-server child
process and the `streamfit` tool, through recovery and the shutdown drain.

usage: operations_test.py --server=BINARY --cli=BINARY --stubs=DIR
       [unittest args]
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import grpc

import server_process

ARGS = None  # set in main
pb2 = None  # streamfit.v1 messages and stubs, imported from --stubs in main
pb2_grpc = None

RUN_TIMEOUT = 60  # seconds per child run


def clean_env():
    """The environment without proxy settings (loopback only)."""
    return {k: v for k, v in os.environ.items()
            if not k.lower().endswith("_proxy")}


def run(*command):
    return subprocess.run(command, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=clean_env(),
                          timeout=RUN_TIMEOUT)


class CommandLineTest(unittest.TestCase):

    def test_help_exits_zero_and_lists_the_flags(self):
        server = run(ARGS.server, "--help")
        self.assertEqual(server.returncode, 0, server.stderr)
        self.assertIn("--data_dir", server.stdout)
        self.assertIn("--log_format", server.stdout)
        cli = run(ARGS.cli, "--help")
        self.assertEqual(cli.returncode, 0, cli.stderr)
        self.assertIn("health", cli.stdout)
        self.assertIn("--token_file", cli.stdout)

    def test_usage_errors_exit_two(self):
        for command in ([ARGS.server, "--no_such_flag"],
                        [ARGS.server, "--log_format=xml"],
                        [ARGS.server, "--fsync=sometimes"],
                        [ARGS.server, "stray-argument"],
                        [ARGS.cli, "--no_such_flag", "models"],
                        [ARGS.cli],
                        [ARGS.cli, "frobnicate"],
                        [ARGS.cli, "get"],
                        [ARGS.cli, "models", "--token_file=/dev/null"]):
            with self.subTest(command=command[1:]):
                result = run(*command)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertTrue(result.stderr.strip())

    def test_server_side_errors_exit_one(self):
        with tempfile.NamedTemporaryFile() as not_a_dir:
            result = run(ARGS.server, "--address=127.0.0.1:0",
                         f"--data_dir={not_a_dir.name}/data")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("server.start_failed", result.stderr)


class HealthAndLogsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = server_process.start_for_test_class(
            cls, ARGS.server, ["--log_format=json"])

    def health(self, *flags):
        return run(ARGS.cli, "health", f"--server={self.server.address}",
                   "--timeout=10s", *flags)

    def test_health_exits_zero_when_serving(self):
        result = self.health()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "SERVING\n")
        self.assertEqual(self.health("--service=").returncode, 0)

    def test_health_exits_one_for_an_unknown_service_or_no_server(self):
        self.assertEqual(self.health("--service=nope").returncode, 1)
        unreachable = run(ARGS.cli, "health", "--server=127.0.0.1:1",
                          "--timeout=2s")
        self.assertEqual(unreachable.returncode, 1, unreachable.stderr)
        self.assertIn("UNAVAILABLE", unreachable.stderr)

    def test_json_logs_are_one_object_per_line(self):
        events = [json.loads(line)
                  for line in self.server.output().splitlines()]
        names = [e["event"] for e in events]
        self.assertIn("server.start", names)
        self.assertIn("server.listening", names)
        for event in events:
            self.assertIn("time", event)
            self.assertIn(event["level"], ("info", "warning", "error"))


def events(server):
    """The server's JSON log lines, parsed, in order."""
    return [json.loads(line) for line in server.output().splitlines()
            if line.startswith("{")]


def health(address, *flags):
    return run(ARGS.cli, "health", f"--server={address}", "--timeout=10s",
               *flags)


LEARNER = "--service=streamfit.v1.Learner"


class RecoveryTest(unittest.TestCase):
    """A server whose recovery replays a large sample log (no checkpoint):
    the port answers health checks with NOT_SERVING until it is done."""

    ROWS = 200_000  # per message
    MESSAGES = 10   # 2,000,000 samples of 10 features: ~3 s of replay

    def test_health_is_not_serving_until_the_models_are_recovered(self):
        data_dir = tempfile.TemporaryDirectory(prefix="streamfit-recovery-")
        self.addCleanup(data_dir.cleanup)
        # No checkpoint but the final one at a clean shutdown, which SIGKILL
        # skips; fsync=never keeps the writing fast (the log survives a
        # process kill either way).
        flags = ["--log_format=json", "--fsync=never",
                 "--checkpoint_every_samples=1000000000000",
                 "--checkpoint_interval_s=1000000"]
        first = server_process.ServerProcess(ARGS.server, data_dir.name,
                                             flags)
        self.addCleanup(first.stop)
        first.start()
        values = [float(i % 7) for i in range(self.ROWS * 10)]
        labels = [float(i % 5) for i in range(self.ROWS)]
        batch = pb2.DenseBatch(num_features=10, values=values, labels=labels)
        channel = grpc.insecure_channel(
            first.address, options=[("grpc.enable_http_proxy", 0),
                                    ("grpc.max_send_message_length", -1)])
        self.addCleanup(channel.close)
        response = pb2_grpc.LearnerStub(channel).Observe(
            iter([pb2.ObserveRequest(model="default", dense_batch=batch)
                  for _ in range(self.MESSAGES)]), timeout=RUN_TIMEOUT)
        samples = self.ROWS * self.MESSAGES
        self.assertEqual(response.model_version, samples)
        first.kill()

        second = server_process.ServerProcess(ARGS.server, data_dir.name,
                                              flags)
        self.addCleanup(second.stop)
        started = time.monotonic()
        second.start(until_recovering=True)
        address = second.recovering_address
        overall = health(address)
        learner = health(address, LEARNER)
        models = run(ARGS.cli, "models", f"--server={address}",
                     "--timeout=10s")
        while True:  # bounded: the deadline below
            ready = [health(address), health(address, LEARNER)]
            if all(r.returncode == 0 for r in ready):
                break
            self.assertLess(time.monotonic() - started, RUN_TIMEOUT,
                            second.output())
            time.sleep(0.05)
        log = events(second)
        [recovered] = [e for e in log if e["event"] == "server.recovered"]
        for result in (overall, learner):
            self.assertEqual(result.returncode, 1,
                             f"{result.stdout}{result.stderr}")
            self.assertEqual(result.stdout, "NOT_SERVING\n")
        self.assertEqual(models.returncode, 1, models.stdout)
        self.assertIn("UNAVAILABLE", models.stderr)
        self.assertEqual([r.stdout for r in ready], ["SERVING\n"] * 2)

        [recovering] = [e for e in log if e["event"] == "server.recovering"]
        self.assertEqual(recovering["models"], 1)
        self.assertEqual(recovering["address"], address)
        self.assertEqual(recovered["models"], 1)
        self.assertGreater(recovered["seconds"], 0)
        print(f"recovery of {samples} samples: {recovered['seconds']:.2f} s",
              file=sys.stderr)
        names = [e["event"] for e in log]
        self.assertLess(names.index("server.recovering"),
                        names.index("model.recovered"))
        self.assertLess(names.index("model.recovered"),
                        names.index("server.recovered"))
        self.assertLess(names.index("server.recovered"),
                        names.index("server.listening"))
        listed = run(ARGS.cli, "models", f"--server={address}", "--json",
                     "--timeout=10s")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertIn(str(samples), listed.stdout)


class DrainTest(unittest.TestCase):
    """SIGTERM with --shutdown_drain_s: health turns NOT_SERVING while calls
    are still served for the drain period, then the server exits 0."""

    DRAIN_S = 4

    def test_sigterm_reports_not_serving_serves_the_drain_then_exits(self):
        data_dir = tempfile.TemporaryDirectory(prefix="streamfit-drain-")
        self.addCleanup(data_dir.cleanup)
        server = server_process.ServerProcess(
            ARGS.server, data_dir.name,
            ["--log_format=json", f"--shutdown_drain_s={self.DRAIN_S}"])
        self.addCleanup(server.stop)
        server.start()
        address = server.address
        rows = os.path.join(data_dir.name, "rows.csv")
        with open(rows, "w") as f:
            for i in range(3):
                f.write(",".join(str(i + j) for j in range(11)) + "\n")
        self.assertEqual(health(address, LEARNER).returncode, 0)

        sent = time.monotonic()
        server.signal(signal.SIGTERM)
        while True:  # bounded: the deadline below
            overall = health(address)
            if overall.stdout == "NOT_SERVING\n":
                break
            self.assertLess(time.monotonic() - sent, self.DRAIN_S,
                            overall.stdout + overall.stderr)
        self.assertEqual(overall.returncode, 1)
        not_serving = time.monotonic()
        predicted = run(ARGS.cli, "predict", "default", "--file", rows,
                        f"--server={address}", "--timeout=10s")
        self.assertEqual(predicted.returncode, 0, predicted.stderr)
        self.assertEqual(len(predicted.stdout.splitlines()), 3)
        # The Learner service stays NOT_SERVING through the drain (the
        # server re-evaluates it every 100 ms).
        while time.monotonic() - not_serving < 0.5:
            learner = health(address, LEARNER)
            self.assertEqual(learner.stdout, "NOT_SERVING\n",
                             learner.stderr)
        code = server.wait(timeout=RUN_TIMEOUT)
        elapsed = time.monotonic() - sent
        self.assertEqual(code, 0, server.output())
        self.assertGreaterEqual(elapsed, self.DRAIN_S)
        self.assertLess(elapsed, self.DRAIN_S + 20)
        log = events(server)
        names = [e["event"] for e in log]
        [draining] = [e for e in log if e["event"] == "server.draining"]
        self.assertEqual(draining["seconds"], self.DRAIN_S)
        self.assertLess(names.index("server.shutdown"),
                        names.index("server.draining"))
        self.assertLess(names.index("server.draining"),
                        names.index("server.stopped"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True,
                        help="the streamfit-server binary")
    parser.add_argument("--cli", required=True, help="the streamfit binary")
    parser.add_argument("--stubs", required=True,
                        help="the directory of the generated Python stubs")
    server_process.run_tests(parser, globals(), server_process.LEARNER_STUBS)


if __name__ == "__main__":
    main()
