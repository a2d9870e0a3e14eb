"""CLI test: the `streamfit` command-line tool against a real streamfit-server
child process.

usage: cli_test.py --server=BINARY --cli=BINARY --source_dir=DIR
       [unittest args]
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

import server_process

ARGS = None  # set in main

CLI_TIMEOUT = 60  # seconds per CLI run


def data_file(name):
    return os.path.join(ARGS.source_dir, "tests", "data", name)


class CliTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        out_dir = tempfile.TemporaryDirectory(prefix="streamfit-cli-test-")
        cls.addClassCleanup(out_dir.cleanup)
        cls.out_dir = out_dir.name
        cls.server = server_process.start_for_test_class(cls, ARGS.server)

    def run_cli(self, *args):
        """Runs `streamfit ARGS` against the test server (never through an
        HTTP proxy that the environment may name)."""
        env = {k: v for k, v in os.environ.items()
               if not k.lower().endswith("_proxy")}
        return subprocess.run(
            [ARGS.cli, *args, f"--server={self.server.address}",
             "--timeout=30s"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            env=env, timeout=CLI_TIMEOUT)

    def run_ok(self, *args):
        """run_cli, expecting success; returns the CompletedProcess."""
        result = self.run_cli(*args)
        self.assertEqual(result.returncode, 0,
                         f"streamfit {' '.join(args)}:\n{result.stderr}")
        return result

    def assert_fails(self, args, *expected_messages, exit_code=1):
        """run_cli(*args), expecting `exit_code` (2: a usage error) and each
        of `expected_messages` on stderr."""
        result = self.run_cli(*args)
        self.assertEqual(result.returncode, exit_code,
                         f"streamfit {' '.join(args)}:\n{result.stderr}")
        for message in expected_messages:
            self.assertIn(message, result.stderr)

    def test_regression_workflow(self):
        diabetes = data_file("diabetes.reg.csv")
        info = json.loads(self.run_ok("create", "diabetes", "--task",
                                      "regression", "--features", "10").stdout)
        self.assertEqual(info["name"], "diabetes")
        self.assertEqual(info["config"]["task"], "TASK_REGRESSION")
        self.assertEqual(info["config"]["num_features"], 10)

        observed = self.run_ok("observe", "diabetes", "--file", diabetes,
                               "--batch", "100")
        self.assertEqual(
            observed.stdout,
            "observed 442 examples; model 'diabetes' is at version 442\n")
        self.assertIn("442 / 442 rows", observed.stderr)

        predicted = self.run_ok("predict", "diabetes", "--file", diabetes,
                                "--min_version", "442")
        values = [float(line) for line in predicted.stdout.splitlines()]
        self.assertEqual(len(values), 442)
        self.assertTrue(all(math.isfinite(v) for v in values))
        self.assertRegex(predicted.stderr,
                         r"^mse [0-9.e+]+ on 442 rows \(model version 442\)")

        snapshot_path = os.path.join(self.out_dir, "diabetes.json")
        self.run_ok("snapshot", "diabetes", "--out", snapshot_path)
        with open(snapshot_path) as f:
            snapshot = json.load(f)
        self.assertEqual(int(snapshot["model_version"]), 442)
        self.assertEqual(len(snapshot["weights"]), 10)
        self.assertEqual(len(snapshot["bias"]), 1)

        models = self.run_ok("models").stdout.splitlines()
        self.assertTrue(models[0].startswith("NAME"), models)
        row = next(line.split() for line in models
                   if line.startswith("diabetes "))
        self.assertEqual(row[1:6], ["regression", "10", "-", "442", "442"])

        self.run_ok("delete", "diabetes")
        self.assert_fails(["get", "diabetes"], "error: NOT_FOUND")

    def test_binary_predict_reports_accuracy(self):
        cancer = data_file("breast_cancer.bin.csv")
        self.run_ok("create", "cancer", "--task", "binary", "--features",
                    "30", "--schedule", "constant", "--learning_rate", "0.01")
        self.run_ok("observe", "cancer", "--file", cancer)
        predicted = self.run_ok("predict", "cancer", "--file", cancer,
                                "--min_version", "569")
        probabilities = [float(v) for v in predicted.stdout.splitlines()]
        self.assertEqual(len(probabilities), 569)
        self.assertTrue(all(0 <= p <= 1 for p in probabilities))
        self.assertRegex(predicted.stderr, r"^accuracy 0\.9[0-9]* on 569 rows")

        info = json.loads(self.run_ok("get", "cancer").stdout)
        self.assertEqual(info["config"]["schedule"], "SCHEDULE_CONSTANT")
        self.assertEqual(info["config"]["learning_rate"], 0.01)

    def test_unknown_model_fails_with_message(self):
        diabetes = data_file("diabetes.reg.csv")
        for args in (["get", "nope"], ["delete", "nope"],
                     ["snapshot", "nope"],
                     ["observe", "nope", "--file", diabetes],
                     ["predict", "nope", "--file", diabetes]):
            with self.subTest(args=args):
                self.assert_fails(args, "error: NOT_FOUND: ", "'nope'")

    def test_usage_and_input_errors_fail_with_message(self):
        self.assert_fails(["frobnicate"], "error: INVALID_ARGUMENT: ",
                          "unknown command 'frobnicate'", exit_code=2)
        self.assert_fails(["get"], "usage: streamfit get NAME", exit_code=2)
        self.assert_fails(
            ["create", "bad", "--task", "linear", "--features", "3"],
            "--task must be regression, binary or multiclass")
        missing = os.path.join(self.out_dir, "missing.csv")
        self.assert_fails(["observe", "any", "--file", missing],
                          "error: NOT_FOUND: cannot open", missing)
        self.run_ok("create", "small", "--task", "binary", "--features", "2")
        self.assert_fails(
            ["snapshot", "small", "--out",
             os.path.join(self.out_dir, "no-dir", "x.json")],
            "error: NOT_FOUND: cannot write")

    def test_create_twice_is_already_exists(self):
        args = ("create", "twice", "--task", "multiclass", "--features", "64",
                "--classes", "10")
        self.run_ok(*args)
        self.assert_fails(args, "error: ALREADY_EXISTS")

    # Issue 5: datasets and retraining from the command line.
    def test_dataset_upload_and_retrain(self):
        self.run_ok("create", "refit", "--task", "regression", "--features",
                    "10")
        upload = self.run_ok("dataset", "upload",
                             data_file("diabetes.reg.csv"))
        dataset_id = upload.stdout.strip().splitlines()[-1]
        self.assertTrue(dataset_id.startswith("ds-"), upload.stdout)
        self.assertIn("442 rows x 10 features", upload.stderr)
        self.assertIn(dataset_id, self.run_ok("dataset", "ls").stdout)
        done = self.run_ok("retrain", "refit", "--dataset", dataset_id,
                           "--algorithm", "least_squares", "--holdout", "0.2",
                           "--wait")
        self.assertIn("SUCCEEDED", done.stdout)
        self.assertIn("swapped in at version 0", done.stdout)
        self.assertIn("SUCCEEDED", self.run_ok("jobs").stdout)
        # A failing job exits 1: labels that a binary model cannot take.
        self.run_ok("create", "refit-binary", "--task", "binary",
                    "--features", "10")
        self.assert_fails(["retrain", "refit-binary", "--dataset", dataset_id,
                           "--wait"], "ended FAILED", "must be 0 or 1")
        self.assert_fails(["retrain", "refit", "--dataset", "ds-0000"],
                          "error: NOT_FOUND")
        self.run_ok("dataset", "rm", dataset_id)
        self.assert_fails(["dataset", "rm", dataset_id], "error: NOT_FOUND")
        bad = os.path.join(self.out_dir, "bad.csv")
        with open(bad, "w") as f:
            f.write("1,2\n3,oops\n")
        self.assert_fails(["dataset", "upload", bad],
                          "INVALID_ARGUMENT", "line 2")


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True,
                        help="the streamfit-server binary")
    parser.add_argument("--cli", required=True, help="the streamfit binary")
    parser.add_argument("--source_dir", required=True,
                        help="the repository root (for tests/data)")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
