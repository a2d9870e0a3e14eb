"""Checks deploy/k8s/*.yaml, deploy/k8s/kafka/*.yaml and the Dockerfile: they
parse, and the fields that make the deployment safe and operable are there
(a PersistentVolumeClaim for --data_dir, probes through `streamfit health`,
resources, a non-root read-only root filesystem, credentials from Secrets,
a ServiceMonitor on the metrics port; one replica with the embedded log, or
several in Kafka mode behind a headless Service). With --server, every flag
the manifests pass must be one the server binary knows.

usage: manifests_test.py --source_dir=DIR [--server=BINARY] [unittest args]
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import unittest

import yaml

ARGS = None


def load_all(*subdirectory):
    """{kind: [documents]} of every manifest in deploy/k8s (or a folder of
    it)."""
    by_kind = {}
    for path in sorted(glob.glob(os.path.join(ARGS.source_dir, "deploy",
                                              "k8s", *subdirectory,
                                              "*.yaml"))):
        with open(path) as f:
            for document in yaml.safe_load_all(f):
                if document:
                    by_kind.setdefault(document["kind"], []).append(document)
    return by_kind


def server_flags():
    """The flags `streamfit-server --help` lists, or None without --server."""
    if not ARGS.server:
        return None
    run = subprocess.run([ARGS.server, "--help"], capture_output=True,
                         text=True, timeout=30)
    return set(re.findall(r"^\s+--(\w+) ", run.stdout + run.stderr,
                          re.MULTILINE))


def matches(selector, labels):
    """Whether a label selector (matchLabels form) selects `labels`."""
    return all(labels.get(key) == value for key, value in selector.items())


class PodChecks:
    """Checks every streamfit StatefulSet passes; a subclass loads `kinds`
    (load_all) in setUpClass and calls pick_statefulset."""

    @classmethod
    def pick_statefulset(cls):
        [cls.statefulset] = cls.kinds["StatefulSet"]
        cls.pod = cls.statefulset["spec"]["template"]["spec"]
        [cls.container] = cls.pod["containers"]

    def flag(self, name):
        for arg in self.container["args"]:
            if arg.startswith(f"--{name}="):
                return arg.split("=", 1)[1]
        self.fail(f"--{name} is not set")

    def test_data_on_a_claim(self):
        spec = self.statefulset["spec"]
        claims = {c["metadata"]["name"] for c in spec["volumeClaimTemplates"]}
        mounts = {m["mountPath"]: m["name"]
                  for m in self.container["volumeMounts"]}
        self.assertIn(mounts[self.flag("data_dir")], claims)
        self.assertEqual(spec["selector"]["matchLabels"],
                         spec["template"]["metadata"]["labels"])

    def test_every_flag_is_known_to_the_server(self):
        known = server_flags()
        if known is None:
            self.skipTest("no --server binary given")
        self.assertIn("data_dir", known)  # the help output was parsed
        for arg in self.container["args"]:
            name = arg[2:].split("=", 1)[0]
            with self.subTest(flag=name):
                self.assertIn(name, known)

    def test_probes_run_streamfit_health(self):
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            with self.subTest(probe=probe):
                command = self.container[probe]["exec"]["command"]
                self.assertEqual(command[:2], ["streamfit", "health"])
        self.assertIn("--service=streamfit.v1.Learner",
                      self.container["readinessProbe"]["exec"]["command"])
        # Liveness (and start-up) ask for the whole server, "".
        for probe in ("livenessProbe", "startupProbe"):
            with self.subTest(probe=probe):
                self.assertIn("--service=",
                              self.container[probe]["exec"]["command"])

    def test_a_long_recovery_is_not_killed(self):
        # Health is NOT_SERVING while the models are recovered; liveness
        # waits for the startupProbe, which allows minutes.
        startup = self.container["startupProbe"]
        self.assertGreaterEqual(
            startup["failureThreshold"] * startup["periodSeconds"], 300)

    def test_termination_grace_covers_the_drain_and_the_grace(self):
        drain = float(self.flag("shutdown_drain_s"))
        grace = float(self.flag("shutdown_grace_s"))
        self.assertGreater(drain, 0)
        # Readiness notices the drain before it ends.
        readiness = self.container["readinessProbe"]
        self.assertLess(
            readiness["periodSeconds"] * readiness["failureThreshold"], drain)
        self.assertGreater(self.pod["terminationGracePeriodSeconds"],
                           drain + grace)

    def test_resources_and_security_context(self):
        resources = self.container["resources"]
        for kind in ("requests", "limits"):
            self.assertIn("cpu", resources[kind])
            self.assertIn("memory", resources[kind])
        pod_security = self.pod["securityContext"]
        self.assertTrue(pod_security["runAsNonRoot"])
        self.assertNotEqual(pod_security["runAsUser"], 0)
        security = self.container["securityContext"]
        self.assertTrue(security["readOnlyRootFilesystem"])
        self.assertFalse(security["allowPrivilegeEscalation"])
        self.assertEqual(security["capabilities"]["drop"], ["ALL"])
        # Every path the server writes is a volume.
        mounts = {m["mountPath"] for m in self.container["volumeMounts"]}
        self.assertIn(self.flag("tls_runtime_dir"), mounts)

    def test_credentials_come_from_secrets_and_the_port_is_protected(self):
        secrets = {s["metadata"]["name"] for s in self.kinds["Secret"]}
        volumes = {v["name"]: v for v in self.pod["volumes"]}
        mounts = {m["name"]: m["mountPath"]
                  for m in self.container["volumeMounts"]}
        for flag in ("tls_cert_file", "tls_key_file", "auth_tokens_file"):
            with self.subTest(flag=flag):
                path = self.flag(flag)
                [volume] = [name for name, mount in mounts.items()
                            if path.startswith(mount + "/")]
                self.assertIn(volumes[volume]["secret"]["secretName"], secrets)
        self.assertNotIn("--allow_insecure_remote", self.container["args"])


class ManifestsTest(PodChecks, unittest.TestCase):
    """deploy/k8s/*.yaml: one server with the embedded sample log."""

    @classmethod
    def setUpClass(cls):
        cls.kinds = load_all()
        cls.pick_statefulset()

    def test_one_replica(self):
        self.assertEqual(self.statefulset["spec"]["replicas"], 1)
        self.assertNotIn("--kafka_brokers", " ".join(self.container["args"]))

    def test_service_and_service_monitor_reach_the_ports(self):
        ports = {p["name"] for p in self.container["ports"]}
        [service] = self.kinds["Service"]
        self.assertEqual(service["spec"]["selector"],
                         self.statefulset["spec"]["template"]["metadata"]
                         ["labels"])
        for port in service["spec"]["ports"]:
            self.assertIn(port["targetPort"], ports)
        [monitor] = self.kinds["ServiceMonitor"]
        self.assertEqual(monitor["spec"]["selector"]["matchLabels"],
                         service["metadata"]["labels"])
        service_ports = {p["name"] for p in service["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            self.assertIn(endpoint["port"], service_ports)
            self.assertEqual(endpoint["path"], "/metrics")
        metrics_port = self.flag("metrics_address").rsplit(":", 1)[1]
        self.assertIn(int(metrics_port),
                      [p["containerPort"] for p in self.container["ports"]])

    def test_dashboard_is_json_with_prometheus_queries(self):
        with open(os.path.join(ARGS.source_dir, "deploy", "k8s",
                               "grafana-dashboard.json")) as f:
            dashboard = json.load(f)
        self.assertTrue(dashboard["panels"])
        for panel in dashboard["panels"]:
            self.assertTrue(panel["targets"][0]["expr"])

    def test_dockerfile_checks_health_and_runs_unprivileged(self):
        with open(os.path.join(ARGS.source_dir, "Dockerfile")) as f:
            dockerfile = f.read()
        self.assertIn("HEALTHCHECK", dockerfile)
        self.assertIn('"streamfit", "health"', dockerfile)
        self.assertIn("USER streamfit", dockerfile)


class KafkaManifestsTest(PodChecks, unittest.TestCase):
    """deploy/k8s/kafka/*.yaml: replicas in Kafka mode behind a headless
    Service."""

    @classmethod
    def setUpClass(cls):
        cls.kinds = load_all("kafka")
        cls.pick_statefulset()
        cls.labels = cls.statefulset["spec"]["template"]["metadata"]["labels"]
        cls.services = {s["metadata"]["name"]: s for s in cls.kinds["Service"]}
        cls.headless = cls.services[cls.statefulset["spec"]["serviceName"]]

    def secret_keys(self):
        """{secret name: its keys}."""
        return {s["metadata"]["name"]: set(s.get("stringData", {})) |
                set(s.get("data", {})) for s in self.kinds["Secret"]}

    def kafka_options(self):
        return dict(option.split("=", 1)
                    for option in self.flag("kafka_option").split(","))

    def test_several_replicas(self):
        self.assertGreater(self.statefulset["spec"]["replicas"], 1)

    def test_kafka_flags_are_set(self):
        for broker in self.flag("kafka_brokers").split(","):
            with self.subTest(broker=broker):
                self.assertRegex(broker, r"^[\w.-]+:\d+$")
        self.assertTrue(self.flag("kafka_topic_prefix"))
        options = self.kafka_options()
        self.assertIn(options["security.protocol"], ("SSL", "SASL_SSL"))

    def test_kafka_credentials_come_from_secrets(self):
        secrets = self.secret_keys()
        env = {e["name"]: e for e in self.container.get("env", [])}
        # Every $(NAME) the kubelet expands in the arguments is a Secret key.
        names = re.findall(r"\$\((\w+)\)", " ".join(self.container["args"]))
        self.assertIn("sasl.password", self.kafka_options())
        self.assertTrue(names)
        for name in names:
            with self.subTest(env=name):
                ref = env[name]["valueFrom"]["secretKeyRef"]
                self.assertIn(ref["key"], secrets[ref["name"]])
        # Every file librdkafka reads is in a mounted Secret.
        volumes = {v["name"]: v for v in self.pod["volumes"]}
        mounts = {m["mountPath"]: m["name"]
                  for m in self.container["volumeMounts"]}
        for key, path in self.kafka_options().items():
            if not key.endswith(".location"):
                continue
            with self.subTest(option=key):
                directory, file = os.path.split(path)
                secret = volumes[mounts[directory]]["secret"]
                items = {i["path"]: i["key"] for i in secret.get("items", [])}
                self.assertIn(items.get(file, file),
                              secrets[secret["secretName"]])

    def test_bootstrap_peer_is_the_headless_service_over_tls(self):
        host = self.flag("bootstrap_peer").rsplit(":", 1)[0]
        self.assertEqual(host.split(".")[0], self.headless["metadata"]["name"])
        # The pods serve TLS with tokens: the peer is asked the same way,
        # with files from mounted Secrets.
        self.assertTrue(self.flag("tls_cert_file"))
        secrets = self.secret_keys()
        volumes = {v["name"]: v for v in self.pod["volumes"]}
        mounts = {m["mountPath"]: m["name"]
                  for m in self.container["volumeMounts"]}
        for name in ("bootstrap_peer_ca_file", "bootstrap_peer_token_file"):
            with self.subTest(flag=name):
                directory, file = os.path.split(self.flag(name))
                secret = volumes[mounts[directory]]["secret"]
                self.assertIn(file, secrets[secret["secretName"]])

    def test_probes_as_in_the_single_server(self):
        single = load_all()
        [statefulset] = single["StatefulSet"]
        [container] = statefulset["spec"]["template"]["spec"]["containers"]
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            with self.subTest(probe=probe):
                self.assertEqual(self.container[probe], container[probe])

    def test_headless_service_selects_the_pods(self):
        spec = self.headless["spec"]
        self.assertEqual(spec["clusterIP"], "None")
        # Only ready replicas are in DNS, so clients never pick one that is
        # starting or draining.
        self.assertFalse(spec.get("publishNotReadyAddresses", False))
        ports = {p["name"]: p["containerPort"]
                 for p in self.container["ports"]}
        address_port = int(self.flag("address").rsplit(":", 1)[1])
        for name, service in self.services.items():
            with self.subTest(service=name):
                self.assertTrue(matches(service["spec"]["selector"],
                                        self.labels))
                for port in service["spec"]["ports"]:
                    self.assertIn(port["targetPort"], ports)
                grpc_port = [p for p in service["spec"]["ports"]
                             if p["name"] == "grpc"][0]
                self.assertEqual(ports[grpc_port["targetPort"]], address_port)
                self.assertEqual(grpc_port["port"], address_port)

    def test_service_monitor_scrapes_each_pod_once(self):
        [monitor] = self.kinds["ServiceMonitor"]
        selector = monitor["spec"]["selector"]["matchLabels"]
        scraped = [name for name, service in self.services.items()
                   if matches(selector, service["metadata"]["labels"])]
        self.assertEqual(scraped, [self.headless["metadata"]["name"]])
        service_ports = {p["name"] for p in self.headless["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            self.assertIn(endpoint["port"], service_ports)
            self.assertEqual(endpoint["path"], "/metrics")

    def test_disruptions_take_one_replica_at_a_time(self):
        [budget] = self.kinds["PodDisruptionBudget"]
        self.assertTrue(matches(budget["spec"]["selector"]["matchLabels"],
                                self.labels))
        self.assertLess(budget["spec"]["maxUnavailable"],
                        self.statefulset["spec"]["replicas"])

    def test_both_deployments_fit_one_namespace(self):
        single = load_all()
        names = {(kind, d["metadata"]["name"])
                 for kind, documents in single.items() for d in documents}
        for kind, documents in self.kinds.items():
            for document in documents:
                name = document["metadata"]["name"]
                with self.subTest(kind=kind, name=name):
                    self.assertNotIn((kind, name), names)
        # Neither Service routes to the other deployment's pods.
        [statefulset] = single["StatefulSet"]
        single_labels = statefulset["spec"]["template"]["metadata"]["labels"]
        for service in single["Service"]:
            self.assertFalse(matches(service["spec"]["selector"], self.labels))
        for service in self.services.values():
            self.assertFalse(matches(service["spec"]["selector"],
                                     single_labels))


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--source_dir", required=True)
    parser.add_argument("--server", default="")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest])


if __name__ == "__main__":
    main()
