"""Checks deploy/k8s/*.yaml and the Dockerfile: they parse, and the fields
that make the deployment safe and operable are there (one replica with a
PersistentVolumeClaim for --data_dir, probes through `streamfit health`,
resources, a non-root read-only root filesystem, credentials from Secrets,
a ServiceMonitor on the metrics port).

usage: manifests_test.py --source_dir=DIR [unittest args]
"""

import argparse
import glob
import json
import os
import sys
import unittest

import yaml

ARGS = None


def load_all():
    """{kind: [documents]} of every manifest in deploy/k8s."""
    by_kind = {}
    for path in sorted(glob.glob(os.path.join(ARGS.source_dir, "deploy",
                                              "k8s", "*.yaml"))):
        with open(path) as f:
            for document in yaml.safe_load_all(f):
                if document:
                    by_kind.setdefault(document["kind"], []).append(document)
    return by_kind


class ManifestsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.kinds = load_all()
        [cls.statefulset] = cls.kinds["StatefulSet"]
        cls.pod = cls.statefulset["spec"]["template"]["spec"]
        [cls.container] = cls.pod["containers"]

    def flag(self, name):
        for arg in self.container["args"]:
            if arg.startswith(f"--{name}="):
                return arg.split("=", 1)[1]
        self.fail(f"--{name} is not set")

    def test_one_replica_with_its_data_on_a_claim(self):
        spec = self.statefulset["spec"]
        self.assertEqual(spec["replicas"], 1)
        claims = {c["metadata"]["name"] for c in spec["volumeClaimTemplates"]}
        mounts = {m["mountPath"]: m["name"]
                  for m in self.container["volumeMounts"]}
        self.assertIn(mounts[self.flag("data_dir")], claims)
        self.assertEqual(spec["selector"]["matchLabels"],
                         spec["template"]["metadata"]["labels"])

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


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--source_dir", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest])


if __name__ == "__main__":
    main()
