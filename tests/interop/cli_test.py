"""CLI test: the `streamfit` command-line tool against a real streamfit-server
child process.

usage: cli_test.py --server=BINARY --cli=BINARY --source_dir=DIR
       [unittest args]
"""

import argparse
import json
import math
import os
import select
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

    def run_cli(self, *args, stdin=None, timeout="30s", server=None):
        """Runs `streamfit ARGS` against the test server, or `server` (never
        through an HTTP proxy that the environment may name), `stdin` as its
        input."""
        env = {k: v for k, v in os.environ.items()
               if not k.lower().endswith("_proxy")}
        address = (server or self.server).address
        return subprocess.run(
            [ARGS.cli, *args, f"--server={address}",
             f"--timeout={timeout}"],
            input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True, text=True, env=env, timeout=CLI_TIMEOUT)

    def run_ok(self, *args, stdin=None, server=None):
        """run_cli, expecting success; returns the CompletedProcess."""
        result = self.run_cli(*args, stdin=stdin, server=server)
        self.assertEqual(result.returncode, 0,
                         f"streamfit {' '.join(args)}:\n{result.stderr}")
        return result

    def assert_fails(self, args, *expected_messages, exit_code=1, **kwargs):
        """run_cli(*args), expecting `exit_code` (2: a usage error) and each
        of `expected_messages` on stderr."""
        result = self.run_cli(*args, **kwargs)
        self.assertEqual(result.returncode, exit_code,
                         f"streamfit {' '.join(args)}:\n{result.stderr}")
        for message in expected_messages:
            self.assertIn(message, result.stderr)

    def test_regression_workflow(self):
        diabetes = data_file("diabetes.reg.csv")
        info = json.loads(self.run_ok("create", "diabetes", "--task",
                                      "regression", "--features", "10",
                                      "--json").stdout)
        self.assertEqual(info["name"], "diabetes")
        self.assertEqual(info["config"]["task"], "TASK_REGRESSION")
        self.assertEqual(info["config"]["num_features"], 10)

        observed = self.run_ok("observe", "diabetes", "--file", diabetes,
                               "--batch", "100")
        self.assertEqual(
            observed.stdout,
            "observed 442 examples; model 'diabetes' is at version 442\n")
        self.assertIn("442 rows accepted", observed.stderr)

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

    def test_past_predictions_gap_and_recent_samples_retrain(self):
        with open(data_file("diabetes.reg.csv")) as f:
            rows = f.read().splitlines(keepends=True)
        self.run_ok("create", "past", "--task", "regression", "--features",
                    "10")
        self.run_ok("observe", "past", "--file", "-",
                    stdin="".join(rows[:200]))
        # observe returns once its samples are durable and queued: reading
        # at min_version sees them applied.
        then = self.run_ok("predict", "past", "--file", "-", "--min_version",
                           "200", stdin="".join(rows[:20])).stdout
        self.run_ok("observe", "past", "--file", "-",
                    stdin="".join(rows[200:]))
        self.run_ok("predict", "past", "--file", "-", "--min_version", "442",
                    stdin=rows[0])
        again = self.run_ok("predict", "past", "--file", "-",
                            "--at_version", "200",
                            stdin="".join(rows[:20]))
        self.assertEqual(again.stdout, then)
        self.assertIn("(model version 200)", again.stderr)
        self.assert_fails(["predict", "past", "--file", "-", "--at_version",
                           "1000"], "OUT_OF_RANGE", "has not been reached",
                          stdin=rows[0])

        line = self.run_ok("gap", "past", "--window", "100").stdout
        self.assertRegex(line, r"^samples 343\.\.442: online loss [0-9.e+]+, "
                               r"batch optimum \(least_squares\) [0-9.e+]+")
        gap = json.loads(self.run_ok("gap", "past", "--window", "100",
                                     "--json").stdout)
        self.assertEqual(int(gap["to_version"]), 442)
        self.assertGreater(gap["online_loss"], gap["batch_loss"])
        self.assert_fails(["gap", "past", "--fit", "minibatch_sgd"],
                          "INVALID_ARGUMENT")
        self.assertIn("\ngap:       samples 343..442: online loss",
                      self.run_ok("get", "past").stdout)

        job = self.run_ok("retrain", "past", "--recent_samples", "300",
                          "--algorithm", "least_squares", "--wait")
        self.assertIn("SUCCEEDED", job.stdout + job.stderr)

    def test_challengers_learn_beside_the_model_and_one_is_promoted(self):
        with open(data_file("diabetes.reg.csv")) as f:
            rows = f.read().splitlines(keepends=True)
        self.run_ok("create", "champ", "--task", "regression", "--features",
                    "10")
        self.run_ok("observe", "champ", "--file", "-",
                    stdin="".join(rows[:100]))
        added = self.run_ok("challenger", "champ", "add", "ada",
                            "--optimizer", "adagrad", "--learning_rate",
                            "0.5").stdout
        self.assertRegex(added, r"^ada: since 100, ")
        self.assertIn("optimizer adagrad, ", added)
        self.assert_fails(["challenger", "champ", "add", "ada"],
                          "ALREADY_EXISTS")
        self.assert_fails(["challenger", "champ", "add", "bad",
                           "--optimizer", "newton"],
                          "--optimizer must be one of", exit_code=2)
        self.run_ok("challenger", "champ", "add", "gone", "--l2", "0.01")
        self.run_ok("observe", "champ", "--file", "-",
                    stdin="".join(rows[100:]))
        self.run_ok("predict", "champ", "--file", "-", "--min_version", "442",
                    stdin=rows[0])
        listed = json.loads(self.run_ok("challenger", "champ",
                                        "--json").stdout)["challengers"]
        self.assertEqual([c["name"] for c in listed], ["ada", "gone"])
        self.assertEqual(int(listed[0]["metrics"]["samples_seen"]), 342)
        self.assertEqual(int(listed[0]["comparison"]["compared_samples"]),
                         442 - 128)
        # From an earlier version: it learns the log since, as "ada" did.
        early = json.loads(self.run_ok(
            "challenger", "champ", "add", "early", "--from_version", "100",
            "--optimizer", "adagrad", "--learning_rate", "0.5",
            "--json").stdout)
        self.assertEqual(int(early["start_version"]), 100)
        self.assertEqual(early["metrics"], listed[0]["metrics"])
        self.assert_fails(["challenger", "champ", "add", "late",
                           "--from_version", "443"], "OUT_OF_RANGE")
        self.run_ok("challenger", "champ", "rm", "early")
        self.run_ok("challenger", "champ", "rm", "gone")
        self.assertEqual(self.run_ok("challenger", "champ").stdout.count(
            ": since "), 1)
        self.assertIn("\nchallenger ada: since 100",
                      self.run_ok("get", "champ").stdout)
        promoted = self.run_ok("challenger", "champ", "promote", "ada").stdout
        self.assertIn("optimizer adagrad, ", promoted)
        self.assertIn("promoted@442", promoted)
        self.assertIn("challenger 'ada' serves from version 442", promoted)
        self.assert_fails(["challenger", "champ", "promote", "ada"],
                          "NOT_FOUND")
        self.assert_fails(["challenger", "champ", "add"], "usage",
                          exit_code=2)

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

        info = json.loads(self.run_ok("get", "cancer", "--json").stdout)
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
            "--task must be regression, binary or multiclass", exit_code=2)
        diabetes = data_file("diabetes.reg.csv")
        for args, message in (
                (["retrain", "any"], "give --dataset or --recent_samples"),
                (["retrain", "any", "--dataset", "ds-0", "--swap", "maybe"],
                 "--swap must be always, if_better or never"),
                (["dataset", "upload", diabetes, "--format", "xls"],
                 "--format must be csv, libsvm or examples"),
                (["observe", "any", "--file", diabetes, "--batch", "0"],
                 "--batch must be >= 1"),
                (["predict", "any", "--file", diabetes, "--label_column",
                  "y"], "--label_column needs --header"),
                (["create", "x", "--task", "binary", "--features", "1",
                  "--schedule", "cosine"], "--schedule must be constant")):
            with self.subTest(args=args):
                self.assert_fails(args, message, exit_code=2)
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

    # Datasets and retraining from the command line.
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

    def test_watch_prints_a_models_events_until_it_is_deleted(self):
        self.run_ok("create", "watched", "--task", "regression", "--features",
                    "10")
        env = {k: v for k, v in os.environ.items()
               if not k.lower().endswith("_proxy")}
        watch = subprocess.Popen(
            [ARGS.cli, "watch", "watched", "--json",
             f"--server={self.server.address}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env)
        try:
            ready, _, _ = select.select([watch.stderr], [], [], CLI_TIMEOUT)
            self.assertTrue(ready, "streamfit watch did not start")
            self.assertIn("watching model 'watched'", watch.stderr.readline())
            upload = self.run_ok("dataset", "upload",
                                 data_file("diabetes.reg.csv"))
            dataset_id = upload.stdout.strip().splitlines()[-1]
            self.run_ok("retrain", "watched", "--dataset", dataset_id,
                        "--algorithm", "least_squares", "--wait")
            self.run_ok("delete", "watched")
            out, err = watch.communicate(timeout=CLI_TIMEOUT)
        finally:
            if watch.poll() is None:
                watch.kill()
                watch.communicate()
        events = [json.loads(line) for line in out.splitlines()]
        self.assertEqual([e["kind"] for e in events],
                         ["RETRAIN_STARTED", "RETRAIN_SWAPPED",
                          "RETRAIN_FINISHED"])
        self.assertEqual(events[2]["retrain_job"]["state"],
                         "RETRAIN_SUCCEEDED")
        self.assertEqual(watch.returncode, 1)
        self.assertIn("model 'watched' was deleted", err)

    def test_create_takes_every_model_config_setting(self):
        info = json.loads(self.run_ok(
            "create", "hashed", "--task", "binary", "--features", "2",
            "--hash_bits", "12", "--optimizer", "ftrl", "--loss", "hinge",
            "--interactions", "a:b,c:c", "--l1", "0.01", "--l2", "0.001",
            "--learning_rate", "0.3", "--ftrl_beta", "0.5",
            "--max_gradient", "10", "--class_weights", "1,3",
            "--drift_detector", "page_hinkley", "--drift_policy", "reset",
            "--serving", "averaged", "--json").stdout)
        config = info["config"]
        self.assertEqual(config["hash_bits"], 12)
        self.assertEqual(config["optimizer"], "OPTIMIZER_FTRL")
        self.assertEqual(config["loss"], "LOSS_HINGE")
        self.assertEqual(config["interactions"],
                         [{"first": "a", "second": "b"},
                          {"first": "c", "second": "c"}])
        self.assertEqual(config["l1"], 0.01)
        self.assertEqual(config["l2"], 0.001)
        self.assertEqual(config["learning_rate"], 0.3)
        self.assertEqual(config["ftrl_beta"], 0.5)
        self.assertEqual(config["max_gradient"], 10)
        self.assertEqual(config["class_weights"], [1, 3])
        self.assertEqual(config["drift_detector"],
                         "DRIFT_DETECTOR_PAGE_HINKLEY")
        self.assertEqual(config["drift_policy"], "DRIFT_POLICY_RESET")
        self.assertEqual(config["serving"], "SERVING_AVERAGED")
        config = json.loads(self.run_ok(
            "create", "exact", "--task", "regression", "--features", "4",
            "--optimizer", "rls", "--rls_ridge", "0.01",
            "--rls_forgetting", "0.999", "--json").stdout)["config"]
        self.assertEqual(config["optimizer"], "OPTIMIZER_RLS")
        self.assertEqual(config["rls_ridge"], 0.01)
        self.assertEqual(config["rls_forgetting"], 0.999)
        self.assertTrue(config["disable_standardization"])
        policies = json.loads(self.run_ok(
            "create", "watched_gap", "--task", "regression", "--features",
            "4", "--drift_policy", "retrain", "--policy_retrain_samples",
            "500", "--batch_gap_every", "1000", "--batch_gap_window", "300",
            "--batch_gap_retrain_ratio", "1.5", "--promote_confidence",
            "0.99", "--promote_window", "2048",
            "--json").stdout)["config"]["policies"]
        self.assertEqual(policies, {
            "retrain_samples": "500", "retrain_dataset": "",
            "batch_gap_every": "1000",
            "batch_gap_window": "300", "batch_gap_retrain_ratio": 1.5,
            "promote_confidence": 0.99, "promote_window": "2048"})
        self.assert_fails(["create", "x", "--task", "binary", "--features",
                           "2", "--batch_gap_retrain_ratio", "0.5"],
                          "batch_gap_retrain_ratio must be 0")
        self.assert_fails(["create", "x", "--task", "binary", "--features",
                           "2", "--drift_detector", "cusum"],
                          "--drift_detector must be one of none, adwin, "
                          "page_hinkley", exit_code=2)
        self.assert_fails(["create", "x", "--task", "binary", "--features",
                           "2", "--optimizer", "newton"],
                          "--optimizer must be one of sgd, adagrad",
                          exit_code=2)
        self.assert_fails(["create", "x", "--task", "binary", "--features",
                           "2", "--interactions", "ab"],
                          "--interactions takes namespace pairs", exit_code=2)

    def test_observe_and_predict_stream_rfc4180_csv_from_stdin(self):
        self.run_ok("create", "quoted", "--task", "regression", "--features",
                    "2")
        text = ('"x 1";"the ""label""";x2\r\n'
                '1;"2.5";3\r\n'
                '"4";5;"6"\n'
                '\n'
                '7;8;9\n')
        observed = self.run_ok("observe", "quoted", "--file", "-",
                               "--delimiter", ";", "--header",
                               "--label_column", 'the "label"', "--batch",
                               "2", "--json", stdin=text)
        self.assertEqual(json.loads(observed.stdout),
                         {"model": "quoted", "accepted": 3,
                          "model_version": 3})
        predicted = self.run_ok("predict", "quoted", "--file", "-",
                                "--delimiter", ";", "--header",
                                "--label_column", 'the "label"',
                                "--min_version", "3", "--json", stdin=text)
        rows = [json.loads(line) for line in predicted.stdout.splitlines()]
        self.assertEqual(len(rows), 3)
        self.assertEqual({r["model_version"] for r in rows}, {3})
        # The same rows by the Python-free path: a plain file, text output.
        path = os.path.join(self.out_dir, "quoted.csv")
        with open(path, "w", newline="") as f:
            f.write(text)
        plain = self.run_ok("predict", "quoted", "--file", path,
                            "--delimiter", ";", "--header", "--label_column",
                            'the "label"')
        text_values = [float(v) for v in plain.stdout.split()]
        self.assertEqual(len(text_values), 3)
        for text_value, row in zip(text_values, rows):  # 6 digits vs 17
            self.assertAlmostEqual(text_value, row["value"],
                                   delta=1e-5 * abs(row["value"]))

    def test_observe_checks_model_and_width_before_sending(self):
        self.run_ok("create", "wide", "--task", "regression", "--features",
                    "3")
        self.assert_fails(["observe", "wide", "--file", "-"],
                          "INVALID_ARGUMENT", "line 1: 2 features",
                          "takes 3", "nothing was sent", stdin="1,2,3\n")
        self.assertEqual(
            json.loads(self.run_ok("get", "wide",
                                   "--json").stdout)["model_version"],
            "0")
        # A bad line after good batches: what the server acked is reported.
        lines = "".join(f"{i},1,2,3\n" for i in range(5)) + "5,1,x,3\n"
        self.assert_fails(["observe", "wide", "--file", "-", "--batch", "2"],
                          "line 6, column 3: 'x' is not a finite number",
                          "4 examples accepted before it", stdin=lines)
        self.assert_fails(["observe", "wide", "--file", "-"],
                          "a quoted field is not closed",
                          stdin='1,2,3,"4\n')
        self.run_ok("create", "sparse-only", "--task", "binary",
                    "--features", "0", "--hash_bits", "8")
        self.assert_fails(["observe", "sparse-only", "--file", "-"],
                          "takes no dense features", "nothing was sent",
                          stdin="1,2\n")

    def test_json_output_and_version_timeout_message(self):
        self.run_ok("create", "listed", "--task", "regression", "--features",
                    "1")
        models = json.loads(self.run_ok("models", "--json").stdout)
        self.assertIn("listed", [m["name"] for m in models["models"]])
        self.assertEqual(json.loads(self.run_ok("delete", "listed",
                                                "--json").stdout),
                         {"deleted": "listed"})
        self.run_ok("create", "slow", "--task", "regression", "--features",
                    "1")
        self.run_ok("observe", "slow", "--file", "-", stdin="1,2\n3,4\n")
        self.assert_fails(["predict", "slow", "--file", "-",
                           "--min_version", "1000"],
                          "error: DEADLINE_EXCEEDED",
                          "did not reach version 1000",
                          "it is at version 2",
                          stdin="1,2\n", timeout="300ms")

    def test_cancelling_an_ended_job_says_it_ended(self):
        self.run_ok("create", "ended", "--task", "regression", "--features",
                    "10")
        dataset_id = self.run_ok(
            "dataset", "upload",
            data_file("diabetes.reg.csv")).stdout.strip().splitlines()[-1]
        self.run_ok("retrain", "ended", "--dataset", dataset_id,
                    "--algorithm", "least_squares", "--wait")
        job_id = json.loads(self.run_ok("jobs", "--json").stdout)["jobs"][-1]["id"]
        self.assert_fails(["jobs", "cancel", job_id],
                          "error: FAILED_PRECONDITION", "already ended")
        self.assertIn(f"job {job_id} SUCCEEDED (least_squares, model 'ended'",
                      self.run_ok("jobs", job_id).stdout)
        self.assertEqual(
            json.loads(self.run_ok("jobs", job_id, "--json").stdout)["state"],
            "RETRAIN_SUCCEEDED")

    def test_health_prints_json_and_refuses_arguments(self):
        self.assertEqual(
            json.loads(self.run_ok("health", "--json").stdout),
            {"service": "streamfit.v1.Learner", "status": "SERVING"})
        self.assert_fails(["health", "extra"], "usage: streamfit health",
                          exit_code=2)

    def test_snapshots_saved_on_the_server_by_name(self):
        self.run_ok("create", "saved", "--task", "regression", "--features",
                    "1")
        self.run_ok("observe", "saved", "--file", "-",
                    stdin="1,2\n3,4\n5,6\n")
        self.run_ok("snapshot", "saved", "--to_file", "saved-at-3")
        listed = json.loads(self.run_ok("snapshots", "saved",
                                        "--json").stdout)["snapshots"]
        self.assertEqual([(s["name"], s["model"], s["model_version"])
                          for s in listed], [("saved-at-3", "saved", "3")])
        self.assertIn("saved-at-3", self.run_ok("snapshots").stdout)
        self.run_ok("observe", "saved", "--file", "-", stdin="7,8\n")
        info = json.loads(self.run_ok("restore", "saved", "--from_snapshot",
                                      "saved-at-3", "--json").stdout)
        self.assertEqual(info["model_version"], "3")
        self.run_ok("snapshots", "rm", "saved-at-3")
        self.assert_fails(["restore", "saved", "--from_snapshot",
                           "saved-at-3"], "error: NOT_FOUND", "'saved-at-3'")
        self.assert_fails(["snapshots", "rm", "saved-at-3"],
                          "error: NOT_FOUND")

    def test_models_and_get_show_lineage_across_a_restart(self):
        data_dir = tempfile.TemporaryDirectory(prefix="streamfit-cli-lineage-")
        self.addCleanup(data_dir.cleanup)
        server = server_process.ServerProcess(ARGS.server, data_dir.name)
        self.addCleanup(server.stop)
        server.start()

        def run(*args, stdin=None):
            return self.run_ok(*args, stdin=stdin, server=server)

        def models_row(name):
            lines = run("models").stdout.splitlines()
            self.assertTrue(lines[0].split()[-1] == "ORIGIN", lines)
            return next(line.split() for line in lines
                        if line.startswith(name + " "))

        run("create", "lin", "--task", "regression", "--features", "10")
        self.assertEqual(models_row("lin")[-1], "created")
        run("observe", "lin", "--file", data_file("diabetes.reg.csv"))
        dataset_id = run("dataset", "upload", data_file(
            "diabetes.reg.csv")).stdout.strip().splitlines()[-1]
        run("retrain", "lin", "--dataset", dataset_id, "--algorithm",
            "least_squares", "--wait")
        job_id = json.loads(run("jobs", "--json").stdout)["jobs"][-1]["id"]
        # VERSION and SAMPLES (over the model's life) stay 442: the swap
        # shows as the origin.
        self.assertEqual(models_row("lin")[4:6], ["442", "442"])
        self.assertEqual(models_row("lin")[-1], "retrained@442")
        text = run("get", "lin").stdout
        self.assertIn("config:    optimizer normalized, loss squared", text)
        # A model just fitted serves its live weights until the samples
        # after the swap choose.
        self.assertIn("serves:    live weights (serving auto)", text)
        self.assertIn(f"job {job_id} (least_squares on dataset "
                      f"{dataset_id}) swapped in at version 442", text)
        self.assertIn("lifetime:  442 samples", text)
        self.assertIn("since:     retrained@442, 0 samples", text)

        run("snapshot", "lin", "--to_file", "lin-442")
        run("observe", "lin", "--file", "-", stdin="1" + ",0" * 10 + "\n")
        run("restore", "lin", "--from_snapshot", "lin-442")
        self.assertEqual(server.stop(), 0)

        server = server_process.ServerProcess(ARGS.server, data_dir.name)
        self.addCleanup(server.stop)
        server.start()
        info = json.loads(run("get", "lin", "--json").stdout)
        self.assertEqual([e["event"] for e in info["lineage"]],
                         ["LINEAGE_CREATED", "LINEAGE_RETRAINED",
                          "LINEAGE_RESTORED"])
        retrained, restored = info["lineage"][1], info["lineage"][2]
        self.assertEqual((retrained["job_id"], retrained["dataset_id"],
                          retrained["algorithm"], retrained["model_version"]),
                         (job_id, dataset_id, "least_squares", "442"))
        self.assertEqual((restored["snapshot_name"], restored["snapshot_model"],
                          restored["model_version"],
                          restored["previous_version"]),
                         ("lin-442", "lin", "442", "443"))
        self.assertEqual(info["lifetime_metrics"]["samples_seen"], "443")
        self.assertEqual(info["metrics_since_lineage"]["samples_seen"], "0")
        self.assertEqual(models_row("lin")[-1], "restored@442")
        listed = json.loads(run("models", "--json").stdout)["models"]
        self.assertEqual(
            next(m for m in listed if m["name"] == "lin")["lineage"],
            info["lineage"])
        self.assertIn("restored", run("get", "lin").stdout)
        self.assertIn("saved snapshot 'lin-442' of model 'lin' at version 442 "
                      "(the model was at 443)", run("get", "lin").stdout)


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
