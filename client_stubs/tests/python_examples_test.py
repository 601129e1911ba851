#!/usr/bin/env python3
"""Runs the Python and Node examples against a real gateway and the sandbox
API.

    /usr/bin/python3 python_examples_test.py --gateway PATH --sandbox PATH

Starts conversions-sandbox and conversions-gateway (with a caller token and,
for one test, TLS) on 127.0.0.1 ports the kernel picks, runs the examples in
client_stubs/python/ with this interpreter and client_stubs/node/example.js
with node (after `npm ci` into a temporary copy; skipped without node, npm
or the npm registry), and checks what they print and what the sandbox
received; and reads the gateway's GET /metrics with the Prometheus client
library's parser. ctest runs it (client_stubs/CMakeLists.txt).
"""

import argparse
import hashlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

PYTHON_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "..", "python")
TOKEN = "client-stubs-test-token-0123456789"
# Every wait on a child process or on delivery ends by this deadline.
DEADLINE_SECONDS = 30

BINARIES = {}


class Child:
    """A child process whose stdout lines are read by a thread, so that the
    test can wait for a line with a deadline and the pipe never fills."""

    def __init__(self, argv, log_path, env=None):
        self._log = open(log_path, "wb")
        self.log_path = log_path
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                        stderr=self._log, env=env)
        self._lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self._lines.put(line.decode("utf-8", "replace").rstrip("\n"))
        self._lines.put(None)  # end of output

    def wait_for_value(self, key):
        """Returns the value of the first `key=value` line on stdout."""
        end = time.monotonic() + DEADLINE_SECONDS
        while True:
            try:
                line = self._lines.get(timeout=max(0, end - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"no {key}= line; log:\n{self.log()}")
            if line.startswith(key + "="):
                return line[len(key) + 1:]

    def log(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()[-4000:]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        self._log.close()


def sha256_hex(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class GatewayTestBase(unittest.TestCase):
    """A sandbox API and a gateway that requires TOKEN, per test class."""

    tls = False

    @classmethod
    def setUpClass(cls):
        # Class cleanups run even when setUpClass fails half way, so that no
        # child outlives the test. They run last in, first out.
        cls.dir = tempfile.mkdtemp(prefix="client_stubs_test_")
        cls.addClassCleanup(shutil.rmtree, cls.dir, ignore_errors=True)
        cls.sandbox = Child([BINARIES["sandbox"], "--listen", "127.0.0.1:0"],
                            os.path.join(cls.dir, "sandbox.log"))
        cls.addClassCleanup(cls.sandbox.stop)
        cls.sandbox_url = "http://" + cls.sandbox.wait_for_value(
            "sandbox_listen")
        tls_config = ""
        if cls.tls:
            cls.ca_file = os.path.join(cls.dir, "tls.crt")
            key_file = os.path.join(cls.dir, "tls.key")
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                 "-subj", "/CN=127.0.0.1", "-addext",
                 "subjectAltName=IP:127.0.0.1", "-keyout", key_file, "-out",
                 cls.ca_file], check=True, capture_output=True)
            tls_config = (f"tls:\n  cert_file: {cls.ca_file}\n"
                          f"  key_file: {key_file}\n")
        config = os.path.join(cls.dir, "gateway.yaml")
        with open(config, "w") as f:
            f.write(f"""grpc_listen: 127.0.0.1:0
http_listen: 127.0.0.1:0
spool:
  path: {cls.dir}/spool.db
dispatcher:
  linger: 0s
callers:
  - name: examples
    token_env: CLIENT_STUBS_TEST_TOKEN
    destinations: [default]
destinations:
  - name: default
    pixel_id: sandbox-pixel
    api_key_env: CLIENT_STUBS_TEST_API_KEY
    endpoint: {cls.sandbox_url}/v1/events
{tls_config}""")
        env = dict(os.environ, CLIENT_STUBS_TEST_TOKEN=TOKEN,
                   CLIENT_STUBS_TEST_API_KEY="sandbox-key")
        cls.gateway = Child([BINARIES["gateway"], "--config", config],
                            os.path.join(cls.dir, "gateway.log"), env=env)
        cls.addClassCleanup(cls.gateway.stop)
        cls.target = cls.gateway.wait_for_value("grpc_listen")
        cls.http = cls.gateway.wait_for_value("http_listen")

    def run_example(self, script, *flags, token=TOKEN, target=None):
        """Runs an example; returns the CompletedProcess."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("CONVERSIONS_TOKEN", "CONVERSIONS_TARGET")}
        if token:
            env["CONVERSIONS_TOKEN"] = token
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ in the sources
        argv = [sys.executable, os.path.join(PYTHON_DIR, script),
                "--target", target or self.target, *flags]
        if self.tls:
            argv += ["--ca-file", self.ca_file]
        return subprocess.run(argv, env=env, capture_output=True, text=True,
                              timeout=DEADLINE_SECONDS)

    def sandbox_event(self, event_id):
        """Waits until the sandbox recorded the event; returns it."""
        end = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < end:
            with urllib.request.urlopen(self.sandbox_url + "/_sandbox/events",
                                        timeout=DEADLINE_SECONDS) as r:
                events = json.load(r)["events"]
            for event in events:
                if event.get("id") == event_id:
                    return event
            time.sleep(0.05)  # poll interval, not a wait for an outcome
        self.fail(f"the sandbox never received {event_id}; gateway log:\n"
                  f"{self.gateway.log()}")

    def assertRan(self, run, code):
        self.assertEqual(run.returncode, code,
                         f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}")


class PythonExamplesTest(GatewayTestBase):

    def test_purchase_is_accepted_with_warnings_and_delivered(self):
        run = self.run_example("send_purchase.py", "--order-id", "py-order-1",
                               "--email", " Jane.Doe@Example.com ",
                               "--phone", "12")
        self.assertRan(run, 0)
        self.assertIn("event 0 (py-order-1): ACCEPTED", run.stdout)
        # "12" is too short for a phone number: dropped, but the event stays.
        self.assertIn("warning user.phone_numbers[0] DROPPED_INVALID",
                      run.stdout)
        event = self.sandbox_event("py-order-1")
        self.assertEqual(event["type"], "order_created")
        self.assertEqual(event["user"]["emails_sha256"],
                         [sha256_hex("jane.doe@example.com")])
        self.assertNotIn("phone_numbers_sha256", event["user"])
        self.assertEqual(event["data"]["amount"], 9999 + 2 * 1500)
        self.assertEqual(event["data"]["currency"], "USD")
        self.assertEqual([c["id"] for c in event["data"]["contents"]],
                         ["sku_1", "sku_2"])

    def test_resending_an_id_answers_duplicate(self):
        first = self.run_example("send_purchase.py", "--order-id", "py-dup-2")
        self.assertRan(first, 0)
        again = self.run_example("send_purchase.py", "--order-id", "py-dup-2")
        self.assertRan(again, 0)
        self.assertIn("event 0 (py-dup-2): DUPLICATE", again.stdout)

    def test_rejected_purchase_prints_violations_and_exits_1(self):
        run = self.run_example("send_purchase.py", "--order-id", "py-bad-3",
                               "--currency", "ZZZ")
        self.assertRan(run, 1)
        self.assertIn("event 0 (py-bad-3): REJECTED", run.stdout)
        self.assertIn("violation data.currency", run.stdout)

    def test_missing_token_fails_at_once_without_retry(self):
        run = self.run_example("send_purchase.py", "--order-id", "py-anon-4",
                               token=None)
        self.assertRan(run, 2)
        self.assertIn("error: UNAUTHENTICATED", run.stderr)
        self.assertNotIn("retrying", run.stderr)

    def test_unreachable_gateway_is_retried_then_reported(self):
        # A bound socket that never listens: connections to it are refused.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = f"127.0.0.1:{s.getsockname()[1]}"
            run = self.run_example("send_purchase.py", "--max-attempts", "3",
                                   "--timeout", "5", target=closed)
        self.assertRan(run, 2)
        self.assertEqual(run.stderr.count("failed with UNAVAILABLE"), 2,
                         run.stderr)
        self.assertIn("error: UNAVAILABLE", run.stderr)
        self.assertIn("gave up after 3 attempts", run.stderr)

    def test_tag_event_is_mapped_accepted_and_delivered(self):
        run = self.run_example("track_tag_event.py", "--event-id", "py-cart-5")
        self.assertRan(run, 0)
        self.assertIn("event 0 (py-cart-5): ACCEPTED", run.stdout)
        event = self.sandbox_event("py-cart-5")
        self.assertEqual(event["type"], "checkout_started")
        self.assertEqual(event["data"]["amount"], 5998)
        self.assertEqual(event["data"]["currency"], "EUR")
        self.assertEqual(event["data"]["contents"][0]["id"], "sku_2")
        self.assertEqual(event["data"]["contents"][0]["amount"], 2999)

    def test_unmapped_tag_event_is_skipped_with_its_reason(self):
        run = self.run_example("track_tag_event.py", "--event-id", "py-ref-6",
                               "--event-name", "refund")
        self.assertRan(run, 0)
        self.assertIn("event 0 (py-ref-6): SKIPPED", run.stdout)
        self.assertIn("skipped: ", run.stdout)


class RetryRuleTest(unittest.TestCase):
    """gateway_client.is_retryable, without a gateway."""

    class FakeError(Exception):
        def __init__(self, code, details):
            super().__init__(details)
            self._code, self._details = code, details

        def code(self):
            return self._code

        def details(self):
            return self._details

    def test_retries_what_later_can_succeed_and_not_the_size_limit(self):
        sys.path.insert(0, PYTHON_DIR)
        import grpc
        import gateway_client
        codes = grpc.StatusCode
        cases = [
            (codes.UNAVAILABLE, "draining", True),
            (codes.RESOURCE_EXHAUSTED, "spool is full: 9 events queued", True),
            (codes.RESOURCE_EXHAUSTED, "the spool's disk is full: x", True),
            (codes.RESOURCE_EXHAUSTED,
             "Received message larger than max (20000000 vs. 16777216)",
             False),
            (codes.RESOURCE_EXHAUSTED,
             "Sent message larger than max (20000000 vs. 16777216)", False),
            (codes.INVALID_ARGUMENT, "0 events", False),
        ]
        for code, details, retryable in cases:
            self.assertEqual(
                gateway_client.is_retryable(self.FakeError(code, details)),
                retryable, details)


class PythonExamplesOverTlsTest(GatewayTestBase):
    tls = True

    def test_purchase_over_tls_is_accepted_and_delivered(self):
        run = self.run_example("send_purchase.py", "--order-id", "py-tls-7")
        self.assertRan(run, 0)
        self.assertIn("event 0 (py-tls-7): ACCEPTED", run.stdout)
        self.sandbox_event("py-tls-7")


class MetricsExpositionTest(GatewayTestBase):
    """GET /metrics of a gateway that delivered an event, read by the
    Prometheus client library's own parser (python3-prometheus-client):
    the hand-written exposition must be what a Prometheus server reads."""

    def test_metrics_parse_and_hold_together(self):
        from prometheus_client.parser import text_string_to_metric_families
        run = self.run_example("send_purchase.py", "--order-id", "py-metrics")
        self.assertRan(run, 0)
        self.sandbox_event("py-metrics")
        with urllib.request.urlopen(f"http://{self.http}/metrics",
                                    timeout=DEADLINE_SECONDS) as r:
            self.assertEqual(r.headers["Content-Type"],
                             "text/plain; version=0.0.4; charset=utf-8")
            text = r.read().decode("utf-8")
        families = {f.name: f for f in text_string_to_metric_families(text)}
        for family in families.values():
            self.assertTrue(family.name.startswith("conversions_"),
                            family.name)
            self.assertTrue(family.documentation, family.name)
            self.assertIn(family.type, ("counter", "gauge", "histogram"),
                          family.name)
            if family.type == "counter":
                for sample in family.samples:
                    self.assertTrue(sample.name.endswith("_total"),
                                    sample.name)
                    self.assertGreaterEqual(sample.value, 0, sample.name)
            if family.type == "histogram":
                self.check_histogram(family)

        def value(name, **labels):
            for sample in families[name].samples:
                if sample.labels == labels and not sample.name.endswith(
                        ("_created",)):
                    return sample.value
            self.fail(f"no sample of {name} with {labels}")

        self.assertGreaterEqual(
            value("conversions_events_accepted", destination="default",
                  api="send"), 1)
        self.assertGreaterEqual(
            value("conversions_events_delivered", destination="default"), 1)
        self.assertGreaterEqual(
            value("conversions_api_requests", destination="default",
                  code="200"), 1)
        self.assertEqual(value("conversions_ready"), 1)
        self.assertEqual(families["conversions_spool_queued_events"].type,
                         "gauge")
        for name in ("conversions_batch_size_events",
                     "conversions_api_latency_seconds",
                     "conversions_spool_sync_seconds"):
            self.assertEqual(families[name].type, "histogram", name)

    def check_histogram(self, family):
        """Per label set: buckets in order of le, counts not decreasing,
        +Inf last and equal to _count, and a _sum."""
        series = {}
        for sample in family.samples:
            key = tuple(sorted((k, v) for k, v in sample.labels.items()
                               if k != "le"))
            series.setdefault(key, {"buckets": [], "count": None,
                                    "sum": None})
            if sample.name.endswith("_bucket"):
                series[key]["buckets"].append(
                    (float(sample.labels["le"]), sample.value))
            elif sample.name.endswith("_count"):
                series[key]["count"] = sample.value
            elif sample.name.endswith("_sum"):
                series[key]["sum"] = sample.value
        self.assertTrue(series, family.name)
        for key, s in series.items():
            where = f"{family.name}{dict(key)}"
            les = [le for le, _ in s["buckets"]]
            counts = [c for _, c in s["buckets"]]
            self.assertEqual(les, sorted(les), where)
            self.assertEqual(les[-1], float("inf"), where)
            self.assertEqual(counts, sorted(counts), where)
            self.assertEqual(counts[-1], s["count"], where)
            self.assertIsNotNone(s["sum"], where)


NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "node")
PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                         "..", "proto")


class NodeExampleTest(GatewayTestBase):
    """client_stubs/node/example.js against the gateway. Needs node and npm,
    and the npm registry for `npm ci` of its locked packages; skipped, with
    the reason, when either is missing."""

    @classmethod
    def setUpClass(cls):
        node, npm = shutil.which("node"), shutil.which("npm")
        if not node or not npm:
            raise unittest.SkipTest("node or npm is not installed")
        super().setUpClass()
        # A copy, so that node_modules never lands in the sources.
        cls.node_dir = os.path.join(cls.dir, "node")
        os.mkdir(cls.node_dir)
        for name in ("package.json", "package-lock.json", "example.js"):
            shutil.copy(os.path.join(NODE_DIR, name), cls.node_dir)
        # Skipped when the registry cannot be reached; any other failure
        # (a lock file out of step with package.json, say) fails the test.
        try:
            ci = subprocess.run([npm, "ci", "--no-audit", "--no-fund",
                                 "--ignore-scripts", "--fetch-timeout=30000",
                                 "--fetch-retries=1"], cwd=cls.node_dir,
                                capture_output=True, text=True, timeout=150)
        except subprocess.TimeoutExpired:
            raise unittest.SkipTest("npm ci took over 150 s: is the npm "
                                    "registry reachable?")
        if ci.returncode != 0:
            unreachable = ("ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT",
                           "ECONNREFUSED", "ECONNRESET", "ENETUNREACH",
                           "EHOSTUNREACH")
            if any(code in ci.stderr for code in unreachable):
                raise unittest.SkipTest("the npm registry is not reachable: " +
                                        ci.stderr[-500:])
            raise AssertionError("npm ci failed:\n" + ci.stderr[-2000:])
        cls.node = node

    def test_example_sends_and_tracks_and_both_are_delivered(self):
        env = dict(os.environ, CONVERSIONS_TARGET=self.target,
                   CONVERSIONS_TOKEN=TOKEN, PROTO_ROOT=PROTO_DIR)
        run = subprocess.run([self.node, "example.js"], cwd=self.node_dir,
                             env=env, capture_output=True, text=True,
                             timeout=DEADLINE_SECONDS)
        self.assertRan(run, 0)
        lines = run.stdout.splitlines()
        sent = [l for l in lines if l.startswith("event 0 (node_order_")]
        tracked = [l for l in lines if l.startswith("event 0 (")
                   and "node_order_" not in l]
        self.assertEqual(len(sent), 1, run.stdout)
        self.assertEqual(len(tracked), 1, run.stdout)
        self.assertTrue(sent[0].endswith(": ACCEPTED"), run.stdout)
        self.assertTrue(tracked[0].endswith(": ACCEPTED"), run.stdout)
        order_id = sent[0].split("(")[1].split(")")[0]
        cart_id = tracked[0].split("(")[1].split(")")[0]
        order = self.sandbox_event(order_id)
        self.assertEqual(order["type"], "order_created")
        self.assertEqual(order["user"]["emails_sha256"],
                         [sha256_hex("jane.doe@example.com")])
        self.assertEqual(order["user"]["phone_numbers_sha256"],
                         [sha256_hex("14155552671")])
        self.assertEqual(order["data"]["amount"], 12999)
        self.assertEqual(order["data"]["contents"][1]["variant_dict"],
                         {"size": "M"})
        cart = self.sandbox_event(cart_id)
        self.assertEqual(cart["type"], "checkout_started")
        self.assertEqual(cart["data"]["amount"], 5998)
        self.assertEqual(cart["data"]["currency"], "EUR")
        self.assertEqual(cart["data"]["contents"][0]["amount"], 2999)

    def test_example_without_its_token_exits_2(self):
        env = {k: v for k, v in os.environ.items()
               if k != "CONVERSIONS_TOKEN"}
        env.update(CONVERSIONS_TARGET=self.target, PROTO_ROOT=PROTO_DIR)
        run = subprocess.run([self.node, "example.js"], cwd=self.node_dir,
                             env=env, capture_output=True, text=True,
                             timeout=DEADLINE_SECONDS)
        self.assertRan(run, 2)
        self.assertIn("error: UNAUTHENTICATED", run.stderr)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--sandbox", required=True)
    args, rest = parser.parse_known_args()
    BINARIES.update(gateway=args.gateway, sandbox=args.sandbox)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
