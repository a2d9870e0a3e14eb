"""Operations test: the command-line contract (--help, exit codes), the
structured logs and the health checks of a real streamfit-server child
process and the `streamfit` tool.

usage: operations_test.py --server=BINARY --cli=BINARY [unittest args]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import unittest

import server_process

ARGS = None  # set in main

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


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True,
                        help="the streamfit-server binary")
    parser.add_argument("--cli", required=True, help="the streamfit binary")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest])


if __name__ == "__main__":
    main()
