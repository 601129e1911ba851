#!/usr/bin/env python3
"""Checks deploy/ against itself and against the built gateway.

Run through deploy/check.sh (scripts/test.sh calls it); the checks live in
deploy/checks/. What it checks:

- Every YAML file under deploy/ parses; the kustomization lists every
  manifest; the objects have the structure the gateway needs (StatefulSet
  with a claim for the spool, headless and ClusterIP Services, PDB, probes,
  security context, resources, Prometheus annotations, mesh components).
- Ports agree everywhere: the gateway configs, the container ports, the
  Services' target ports, the probes, the Prometheus annotation and the
  Dockerfile's EXPOSE.
- Timeouts: terminationGracePeriodSeconds, the systemd TimeoutStopSec and the
  Linkerd proxy's wait exceed the preStop sleep plus shutdown_drain_timeout.
- The Dockerfile: its build stage installs scripts/setup.sh's build packages;
  its runtime stage installs exactly the packages of the shared libraries
  `ldd` lists for the gateway (by `dpkg -S`), plus ca-certificates; a numeric
  user equal to the Kubernetes runAsUser; the config path the manifests and
  the image agree on.
- The systemd unit against its config (state directory, credential, stop
  timeout, hardening).
- Live: the gateway is started with each config file under deploy/ (listen
  addresses rewritten to 127.0.0.1:0, the spool to a temporary folder, API
  endpoints to loopback, dummy secrets), must become ready, must answer every
  probe path and the metrics path with 200, and must exit 0 on SIGTERM.
- Self-test: each of a few deliberate breakages (a port changed in one file,
  a runtime package removed, a grace period too short, an unknown config key)
  applied to a copy of the files must make the check fail, so it cannot pass
  vacuously.

Usage: check_deploy.py --gateway BUILD/service/conversions-gateway [--root DIR]
"""

import argparse
import os
import shutil
import sys
import tempfile

from checks.common import Checker, load_yaml_docs
from checks.kubernetes import check_kubernetes
from checks.live import run_gateway
from checks.packaging import check_dockerfile, check_systemd

# Each breaks one thing in a copy of the files; the check must then fail.
# The last field: whether the live runs are needed to notice it (only the
# gateway's own loader knows its keys).
MUTATIONS = [
    ("a container port changed in statefulset.yaml only",
     "deploy/kubernetes/statefulset.yaml", "containerPort: 8080",
     "containerPort: 8081", False),
    ("the gRPC port changed in the Kubernetes config only",
     "deploy/kubernetes/gateway-config.yaml", "0.0.0.0:50051",
     "0.0.0.0:50052", False),
    ("a runtime package removed from the Dockerfile",
     "deploy/Dockerfile", "      libsqlite3-0 \\\n", "", False),
    ("terminationGracePeriodSeconds not above the drain",
     "deploy/kubernetes/statefulset.yaml",
     "terminationGracePeriodSeconds: 60", "terminationGracePeriodSeconds: 30",
     False),
    ("TimeoutStopSec below the drain timeout",
     "deploy/systemd/conversions-gateway.service", "TimeoutStopSec=45s",
     "TimeoutStopSec=20s", False),
    ("a config key the gateway does not know",
     "deploy/kubernetes/gateway-config.yaml", "spool:\n",
     "spool:\n  fsync: always\n", True),
]


def self_test(root, binary):
    """Applies each mutation to a copy; returns the ones the check missed."""
    missed = []
    for what, rel, old, new, live in MUTATIONS:
        with tempfile.TemporaryDirectory() as tmp:
            for part in ("deploy", "scripts", ".dockerignore"):
                src = os.path.join(root, part)
                if os.path.isdir(src):
                    shutil.copytree(src, os.path.join(tmp, part))
                else:
                    shutil.copy(src, os.path.join(tmp, part))
            path = os.path.join(tmp, rel)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if old not in text:
                missed.append(f"{what} (the text to break, {old!r}, is gone "
                              f"from {rel}: update MUTATIONS)")
                continue
            with open(path, "w", encoding="utf-8") as f:
                f.write(text.replace(old, new, 1))
            c = Checker(quiet=True)
            run_all(tmp, binary, c, live=live, quiet=True)
            if not c.failures:
                missed.append(what)
            else:
                print(f"self-test: caught {what}: {c.failures[0]}")
    return missed



def run_all(root, binary, c, live, quiet=False):
    ctx = {"live_configs": []}
    for dirpath, _, files in os.walk(os.path.join(root, "deploy")):
        for name in files:
            if name.endswith((".yaml", ".yml")):
                load_yaml_docs(os.path.join(dirpath, name), c)
    check_kubernetes(root, ctx, c)
    check_dockerfile(root, binary, ctx, c)
    check_systemd(root, binary, c)
    if not live:
        return
    runs = ctx["live_configs"] + [
        ("systemd", os.path.join(root, "deploy/systemd/config.yaml")),
        ("example", os.path.join(root, "deploy/config.example.yaml"))]
    generic = [("liveness", "/healthz"), ("readiness", "/readyz"),
               ("metrics", "/metrics")]
    for name, path in runs:
        paths = ctx.get("k8s_probe_paths", []) if name == "kubernetes" else []
        failures = len(c.failures)
        run_gateway(binary, name, path, generic + paths, c)
        if not quiet and len(c.failures) == failures:
            print(f"live: the gateway with {os.path.relpath(path, root)} got "
                  f"ready, answered {', '.join(sorted(set(p for _, p in generic + paths)))} "
                  "with 200 and exited 0 on SIGTERM")
    c.ok(len(runs) == 4, f"expected 4 live runs, made {len(runs)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", required=True,
                        help="the built conversions-gateway binary")
    parser.add_argument("--root", default=".", help="the repository root")
    parser.add_argument("--no-self-test", action="store_true",
                        help="skip the deliberate-breakage runs")
    args = parser.parse_args()
    root, binary = os.path.abspath(args.root), os.path.abspath(args.gateway)
    c = Checker()
    if not c.ok(os.access(binary, os.X_OK), f"{binary} is not executable"):
        return 1
    run_all(root, binary, c, live=True)
    if not args.no_self_test and not c.failures:
        missed = self_test(root, binary)
        for what in missed:
            c.ok(False, f"self-test: the check did not catch: {what}")
        c.passed += len(MUTATIONS) - len(missed)
    print(f"deploy check: {c.passed} checks passed, {len(c.failures)} failed")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
