#!/usr/bin/env python3
"""Checks deploy/ against itself and against the built gateway.

Run through deploy/check.sh (scripts/test.sh calls it). What it checks:

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
import queue
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import yaml

CONFIG_PORT_NAMES = ("grpc_listen", "http_listen")
DEFAULT_DRAIN_SECONDS = 30.0  # shutdown_drain_timeout's default (config.h)
# Runtime packages the binary does not link but the image needs.
RUNTIME_EXTRAS = {"ca-certificates"}
# Failing checks print this many lines of the gateway's log.
LOG_TAIL = 20


class Checker:
    """Collects check results; `ok` records one check and returns its value."""

    def __init__(self, quiet=False):
        self.passed = 0
        self.failures = []
        self.quiet = quiet

    def ok(self, condition, what):
        if condition:
            self.passed += 1
        else:
            self.failures.append(what)
            if not self.quiet:
                print(f"FAIL: {what}", flush=True)
        return bool(condition)


# ----------------------------------------------------------------- parsing


def load_yaml_docs(path, c):
    try:
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
    except (OSError, yaml.YAMLError) as e:
        c.ok(False, f"{path}: does not parse as YAML: {e}")
        return []
    c.ok(docs, f"{path}: no YAML document")
    return docs


def parse_duration(text):
    """The gateway's durations: <integer><ms|s|m|h|d>. Returns seconds."""
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", str(text).strip())
    if not m:
        return None
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return int(m.group(1)) * scale


def parse_systemd_time(text):
    """systemd time spans: "45s", "5min", "1min 30s", "90". Seconds."""
    units = {"ms": 0.001, "s": 1, "sec": 1, "second": 1, "seconds": 1,
             "m": 60, "min": 60, "minute": 60, "minutes": 60, "h": 3600,
             "hr": 3600, "hour": 3600, "hours": 3600, "": 1}
    total = 0.0
    parts = re.findall(r"(\d+)\s*([a-z]*)", text.strip())
    if not parts or re.sub(r"[\d\sa-z]", "", text.strip()):
        return None
    for number, unit in parts:
        if unit not in units:
            return None
        total += int(number) * units[unit]
    return total


def parse_quantity(text):
    """Kubernetes quantities: 500m, 2, 256Mi, 1G. Returns a float."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?", str(text))
    if not m:
        return None
    scale = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}[m.group(2)]
    return float(m.group(1)) * scale


def listen_port(address):
    m = re.fullmatch(r"(?:\[[^\]]*\]|[^:\[\]]+):(\d+)", str(address))
    return int(m.group(1)) if m else None


def listen_host(address):
    return str(address).rsplit(":", 1)[0].strip("[]")


def gateway_config(path, c):
    """Loads a gateway config file with PyYAML for the static checks (the
    gateway's own loader judges it in the live run)."""
    docs = load_yaml_docs(path, c)
    cfg = docs[0] if docs else {}
    if not c.ok(isinstance(cfg, dict), f"{path}: not a YAML map"):
        cfg = {}
    cfg.setdefault("grpc_listen", "127.0.0.1:50051")
    cfg.setdefault("http_listen", "127.0.0.1:8080")
    drain = parse_duration(cfg.get("shutdown_drain_timeout", "30s"))
    c.ok(drain is not None, f"{path}: shutdown_drain_timeout is malformed")
    cfg["_drain_seconds"] = drain if drain is not None else DEFAULT_DRAIN_SECONDS
    for key in CONFIG_PORT_NAMES:
        c.ok(listen_port(cfg[key]) is not None,
             f"{path}: {key} {cfg[key]!r} is not host:port")
    return cfg


def parse_dockerfile(path):
    """Returns (stages, instructions before the first FROM). A stage is
    {"from": str, "instrs": [(INSTR, args)]}; continuation lines joined."""
    logical, current = [], ""
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n").rstrip()
            if line.lstrip().startswith("#"):
                continue
            if not current and not line.strip():
                continue
            if line.endswith("\\"):
                current += line[:-1] + " "
                continue
            current += line
            logical.append(current.strip())
            current = ""
    if current.strip():
        logical.append(current.strip())
    stages, preamble = [], []
    for line in logical:
        instr, _, rest = line.partition(" ")
        entry = (instr.upper(), rest.strip())
        if entry[0] == "FROM":
            stages.append({"from": entry[1], "instrs": []})
        elif stages:
            stages[-1]["instrs"].append(entry)
        else:
            preamble.append(entry)
    return stages, preamble


def apt_installed(stage):
    """Packages that `apt-get install` commands of a stage's RUNs name."""
    packages = []
    for instr, args in stage["instrs"]:
        if instr != "RUN":
            continue
        for command in re.split(r"&&|\|\||;|\|", args):
            try:
                words = shlex.split(command)
            except ValueError:
                continue
            if "apt-get" not in words or "install" not in words:
                continue
            for word in words[words.index("install") + 1:]:
                if not word.startswith("-"):
                    packages.append(word.split("=")[0])
    return packages


def setup_build_packages(path):
    """scripts/setup.sh's PACKAGES entries before its "# tests" comment."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^PACKAGES=\(\n(.*?)^\)", text, re.S | re.M)
    if not m:
        return None
    packages = []
    for line in m.group(1).splitlines():
        if re.match(r"\s*#\s*tests", line):
            return packages
        packages += line.split("#")[0].split()
    return None


def parse_unit(path):
    """A systemd unit as {section: [(key, value)]}."""
    sections, current = {}, None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                current = sections.setdefault(line[1:-1], [])
            elif current is not None and "=" in line:
                key, _, value = line.partition("=")
                current.append((key.strip(), value.strip()))
    return sections


def unit_value(section, key):
    values = [v for k, v in section if k == key]
    return values[-1] if values else None


# ------------------------------------------------------------ ldd and dpkg


def library_packages(binary, c):
    """Maps every shared library `ldd binary` lists to its Debian package."""
    if binary not in _LIBRARY_PACKAGES:
        _LIBRARY_PACKAGES[binary] = _library_packages(binary, c)
    return _LIBRARY_PACKAGES[binary]


_LIBRARY_PACKAGES = {}


def _library_packages(binary, c):
    try:
        out = subprocess.run(["ldd", binary], check=True, capture_output=True,
                             text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        c.ok(False, f"ldd {binary} failed: {e}")
        return {}
    libraries = []
    for line in out.splitlines():
        line = line.strip()
        if "not found" in line:
            c.ok(False, f"ldd {binary}: {line}")
        m = re.match(r"\S+ => (/\S+)", line) or re.match(r"(/\S+) \(", line)
        if m:
            libraries.append(m.group(1))
    c.ok(len(libraries) >= 3, f"ldd {binary} lists only {libraries}")
    # One dpkg -S for all: Debian 12 registers libraries under /lib or
    # /usr/lib, and ldd may print either, or a symlink's name.
    candidates = {}
    for library in libraries:
        paths = []
        for p in (library, os.path.realpath(library)):
            paths += [p, "/usr" + p, p[4:] if p.startswith("/usr/") else p]
        candidates[library] = list(dict.fromkeys(paths))
    r = subprocess.run(["dpkg", "-S"] + sorted({p for ps in candidates.values()
                                                for p in ps}),
                       capture_output=True, text=True)
    owner = {}
    for line in r.stdout.splitlines():
        if ": " in line and not line.startswith("diversion"):
            names, _, path = line.partition(": ")
            owner[path] = names.split(",")[0].strip().split(":")[0]
    packages = {}
    for library in libraries:
        package = next((owner[p] for p in candidates[library] if p in owner),
                       None)
        if c.ok(package, f"dpkg -S finds no package for {library}"):
            packages.setdefault(package, []).append(library)
    return packages


# ------------------------------------------------------------- Kubernetes


def resolve_port(port, container):
    """A probe's or Service's (target) port, by name or number, as a number."""
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return p.get("containerPort")
    return None


def subset(labels, of):
    return bool(labels) and all(of.get(k) == v for k, v in labels.items())


def check_kubernetes(root, ctx, c):
    kdir = os.path.join(root, "deploy/kubernetes")
    kust_path = os.path.join(kdir, "kustomization.yaml")
    kust = (load_yaml_docs(kust_path, c) or [{}])[0]
    resources = kust.get("resources", [])
    generators = kust.get("configMapGenerator", [])
    c.ok(kust.get("kind") == "Kustomization", f"{kust_path}: not a Kustomization")

    # Every manifest is listed; the config file is used by the generator.
    generated_files = {}
    for g in generators:
        for entry in g.get("files", []):
            key, _, file = entry.rpartition("=")
            key = key or os.path.basename(file)
            generated_files[file] = (g.get("name"), key)
    for name in sorted(os.listdir(kdir)):
        if name.endswith((".yaml", ".yml")) and name != "kustomization.yaml":
            c.ok(name in resources or name in generated_files,
                 f"deploy/kubernetes/{name} is in neither resources nor "
                 "configMapGenerator of kustomization.yaml")
    objects = []
    for r in resources:
        path = os.path.join(kdir, r)
        if c.ok(os.path.isfile(path), f"kustomization resource {r} is missing"):
            for doc in load_yaml_docs(path, c):
                if c.ok(isinstance(doc, dict) and doc.get("kind") and
                        doc.get("apiVersion") and
                        doc.get("metadata", {}).get("name"),
                        f"{r}: a document without kind, apiVersion or name"):
                    objects.append(doc)
    c.ok(len(generated_files) == 1,
         "kustomization.yaml must generate the config ConfigMap from one file")
    config_file, (configmap_name, configmap_key) = (
        next(iter(generated_files.items())) if generated_files
        else ("gateway-config.yaml", ("?", "?")))
    cfg_path = os.path.join(kdir, config_file)
    cfg = gateway_config(cfg_path, c)
    ctx["live_configs"].append(("kubernetes", cfg_path))
    grpc_port, http_port = (listen_port(cfg[k]) for k in CONFIG_PORT_NAMES)
    for key in CONFIG_PORT_NAMES:
        c.ok(listen_host(cfg[key]) in ("0.0.0.0", "::"),
             f"{config_file}: {key} must bind all interfaces (0.0.0.0), "
             f"not {cfg[key]}")
    ctx["k8s_ports"] = (grpc_port, http_port)

    def of_kind(kind):
        return [o for o in objects if o["kind"] == kind]

    statefulsets = of_kind("StatefulSet")
    services = of_kind("Service")
    pdbs = of_kind("PodDisruptionBudget")
    c.ok(not of_kind("Deployment"), "the gateway must not be a Deployment")
    if not (c.ok(len(statefulsets) == 1, "expected exactly one StatefulSet") and
            c.ok(len(pdbs) == 1, "expected one PodDisruptionBudget")):
        return
    sts = statefulsets[0]
    spec = sts.get("spec", {})
    pod = spec.get("template", {})
    pod_labels = pod.get("metadata", {}).get("labels", {})
    pod_spec = pod.get("spec", {})
    containers = pod_spec.get("containers", [])
    if not c.ok(len(containers) == 1, "the pod must have one container"):
        return
    ct = containers[0]
    c.ok(subset(spec.get("selector", {}).get("matchLabels"), pod_labels),
         "the StatefulSet's selector does not match its pod labels")

    # Services.
    headless = [s for s in services if s["spec"].get("clusterIP") == "None"]
    cluster = [s for s in services
               if s["spec"].get("clusterIP") != "None" and
               s["spec"].get("type", "ClusterIP") == "ClusterIP"]
    c.ok(len(headless) == 1, "expected one headless Service (clusterIP: None)")
    c.ok(len(cluster) == 1, "expected one ClusterIP Service")
    if headless:
        c.ok(spec.get("serviceName") == headless[0]["metadata"]["name"],
             "the StatefulSet's serviceName must be the headless Service")
    container_ports = {p.get("name"): p.get("containerPort")
                       for p in ct.get("ports", [])}
    c.ok(sorted(container_ports.values()) == sorted([grpc_port, http_port]),
         f"container ports {container_ports} must be the config's gRPC port "
         f"{grpc_port} and HTTP port {http_port}")
    c.ok(container_ports.get("grpc") == grpc_port,
         f"container port 'grpc' must be {grpc_port}")
    c.ok(container_ports.get("http") == http_port,
         f"container port 'http' must be {http_port}")
    for s in services:
        name = s["metadata"]["name"]
        c.ok(subset(s["spec"].get("selector"), pod_labels),
             f"Service {name}: selector does not match the pod labels")
        kinds = set()
        for p in s["spec"].get("ports", []):
            target = resolve_port(p.get("targetPort", p.get("port")), ct)
            pname = p.get("name", "")
            if target == grpc_port:
                kinds.add("grpc")
                c.ok(re.fullmatch(r"grpc(-.*)?", pname) and
                     p.get("appProtocol") == "grpc",
                     f"Service {name}: the gRPC port must be named grpc[-*] "
                     f"with appProtocol grpc, not {pname}/{p.get('appProtocol')}")
            elif target == http_port:
                kinds.add("http")
                c.ok(re.fullmatch(r"http(-.*)?", pname) and
                     p.get("appProtocol") == "http",
                     f"Service {name}: the HTTP port must be named http[-*] "
                     f"with appProtocol http, not {pname}/{p.get('appProtocol')}")
            else:
                c.ok(False, f"Service {name}: port {pname} targets "
                     f"{p.get('targetPort')}, which is no gateway port")
        c.ok(kinds == {"grpc", "http"},
             f"Service {name}: must expose the gRPC and the HTTP port")
    c.ok(subset(pdbs[0]["spec"].get("selector", {}).get("matchLabels"),
                pod_labels), "the PodDisruptionBudget's selector does not "
         "match the pod labels")

    # Config file mount, spool volume, temporary files.
    mounts = {m.get("name"): m for m in ct.get("volumeMounts", [])}
    volumes = {v.get("name"): v for v in pod_spec.get("volumes", [])}
    config_mounts = [mounts.get(n) for n, v in volumes.items()
                     if v.get("configMap", {}).get("name") == configmap_name]
    ctx["k8s_config_paths"] = [
        f"{m['mountPath'].rstrip('/')}/{configmap_key}" for m in config_mounts
        if m and not m.get("subPath")]
    c.ok(ctx["k8s_config_paths"], f"the ConfigMap {configmap_name} is not "
         "mounted as a directory in the container")
    args = ct.get("command", []) + ct.get("args", [])
    if "--config" in args:
        ctx["k8s_config_paths"] = [args[args.index("--config") + 1]]
    claims = [t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])]
    c.ok(claims, "the StatefulSet needs a volumeClaimTemplate for the spool")
    spool = str(cfg.get("spool", {}).get("path", "./data/spool.db"))
    c.ok(any(m.get("name") in claims and
             spool.startswith(m["mountPath"].rstrip("/") + "/")
             for m in ct.get("volumeMounts", [])),
         f"spool.path {spool} is not on a volume of a volumeClaimTemplate")
    c.ok(any(m.get("mountPath") == "/tmp" and
             "emptyDir" in volumes.get(m.get("name"), {})
             for m in ct.get("volumeMounts", [])),
         "with a read-only root, /tmp (SQLite's temporary files) needs an "
         "emptyDir")

    # Secrets: every destination's env variables, or its key file.
    env = {e.get("name"): e for e in ct.get("env", [])}
    for i, d in enumerate(cfg.get("destinations") or [{}]):
        if d.get("api_key_file"):
            c.ok(any(str(d["api_key_file"]).startswith(m["mountPath"] + "/") and
                     "secret" in volumes.get(m["name"], {})
                     for m in ct.get("volumeMounts", [])),
                 f"destinations[{i}].api_key_file is not on a Secret volume")
        else:
            name = d.get("api_key_env", "OPENAI_CONVERSIONS_API_KEY")
            ref = env.get(name, {}).get("valueFrom", {}).get("secretKeyRef")
            c.ok(ref and not ref.get("optional"),
                 f"env {name} (destinations[{i}].api_key_env) must come from "
                 "a Secret (secretKeyRef, not optional)")
        if "pixel_id" not in d:
            name = d.get("pixel_id_env", "OPENAI_PIXEL_ID")
            c.ok(name in env, f"env {name} (destinations[{i}].pixel_id_env) "
                 "is not set in the container")

    # Probes.
    probe_paths = []
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        probe = ct.get(kind)
        if not c.ok(probe, f"the container has no {kind}"):
            continue
        if "grpc" in probe:
            c.ok(probe["grpc"].get("port") == grpc_port,
                 f"{kind}: gRPC port must be {grpc_port}")
        elif c.ok("httpGet" in probe, f"{kind}: expected httpGet or grpc"):
            get = probe["httpGet"]
            c.ok(resolve_port(get.get("port"), ct) == http_port,
                 f"{kind}: port {get.get('port')} is not the HTTP port "
                 f"{http_port}")
            probe_paths.append((kind, get.get("path", "/")))
    live = ct.get("livenessProbe", {}).get("httpGet", {}).get("path")
    ready = ct.get("readinessProbe", {}).get("httpGet", {}).get("path")
    c.ok(live in (None, "/healthz"), "livenessProbe must GET /healthz")
    c.ok(ready in (None, "/readyz"), "readinessProbe must GET /readyz")

    # Prometheus.
    annotations = pod.get("metadata", {}).get("annotations", {})
    c.ok(annotations.get("prometheus.io/scrape") == "true",
         "pod annotation prometheus.io/scrape must be \"true\"")
    c.ok(str(annotations.get("prometheus.io/port")) == str(http_port),
         f"pod annotation prometheus.io/port must be the HTTP port {http_port}")
    probe_paths.append(("prometheus.io/path",
                        annotations.get("prometheus.io/path", "/metrics")))
    ctx["k8s_probe_paths"] = probe_paths

    # Shutdown: grace > preStop + drain.
    prestop = ct.get("lifecycle", {}).get("preStop", {})
    prestop_seconds = 0
    if "sleep" in prestop:
        prestop_seconds = prestop["sleep"].get("seconds", 0)
    elif "exec" in prestop:
        command = prestop["exec"].get("command", [])
        c.ok(len(command) == 2 and command[0].endswith("sleep") and
             command[1].isdigit(), f"preStop: expected [sleep, N], got {command}")
        prestop_seconds = int(command[1]) if command[-1].isdigit() else 0
    grace = pod_spec.get("terminationGracePeriodSeconds", 30)
    needed = prestop_seconds + cfg["_drain_seconds"]
    c.ok(grace > needed, f"terminationGracePeriodSeconds {grace} must exceed "
         f"preStop {prestop_seconds}s + shutdown_drain_timeout "
         f"{cfg['_drain_seconds']:g}s")
    ctx["k8s_stop"] = (needed, grace)

    # Security context (container settings, or the pod's where Kubernetes
    # has them there too).
    psc = pod_spec.get("securityContext", {})
    csc = ct.get("securityContext", {})

    def either(key):
        return csc.get(key, psc.get(key))

    c.ok(either("runAsNonRoot") is True, "runAsNonRoot must be true")
    c.ok(csc.get("readOnlyRootFilesystem") is True,
         "readOnlyRootFilesystem must be true")
    c.ok(csc.get("allowPrivilegeEscalation") is False,
         "allowPrivilegeEscalation must be false")
    c.ok("ALL" in csc.get("capabilities", {}).get("drop", []),
         "capabilities must drop ALL")
    c.ok((either("seccompProfile") or {}).get("type") == "RuntimeDefault",
         "seccompProfile must be RuntimeDefault")
    ctx["k8s_user"] = either("runAsUser")
    ctx["k8s_group"] = either("runAsGroup")
    c.ok(isinstance(ctx["k8s_user"], int) and ctx["k8s_user"] > 0,
         "runAsUser must be a non-zero number")

    # Resources: the README's figure is about 200 MB RSS with 1M queued.
    res = ct.get("resources", {})
    for part in ("requests", "limits"):
        for what in ("cpu", "memory"):
            c.ok(parse_quantity(res.get(part, {}).get(what, "")) is not None,
                 f"resources.{part}.{what} is missing or malformed")
    request = parse_quantity(res.get("requests", {}).get("memory", "0")) or 0
    limit = parse_quantity(res.get("limits", {}).get("memory", "0")) or 0
    c.ok(request >= 200e6, "memory request must cover the ~200 MB peak RSS "
         "with 1M events queued")
    c.ok(limit >= request, "the memory limit is below the request")

    check_mesh(kdir, kust, ctx, c)
    render_with_kubectl(kdir, cfg_path, configmap_key, c)


def component_patches(path, c):
    docs = load_yaml_docs(path, c)
    comp = docs[0] if docs else {}
    c.ok(comp.get("kind") == "Component", f"{path}: not a kustomize Component")
    patches = []
    for p in comp.get("patches", []):
        patches += yaml.safe_load_all(p.get("patch", "")) if "patch" in p else []
    return [p for p in patches if p]


def check_mesh(kdir, kust, ctx, c):
    needed, grace = ctx["k8s_stop"]
    istio = os.path.join(kdir, "mesh/istio/kustomization.yaml")
    linkerd = os.path.join(kdir, "mesh/linkerd/kustomization.yaml")
    for path in (istio, linkerd):
        if not c.ok(os.path.isfile(path), f"{path} is missing"):
            return
    for listed in kust.get("components") or []:
        c.ok(os.path.isdir(os.path.join(kdir, listed)),
             f"kustomization component {listed} is missing")

    def annotations(path):
        out = {}
        for patch in component_patches(path, c):
            meta = patch.get("spec", {}).get("template", {}).get("metadata", {})
            out.update(meta.get("annotations", {}))
        return out

    config = yaml.safe_load(annotations(istio).get("proxy.istio.io/config",
                                                   "{}")) or {}
    c.ok(config.get("holdApplicationUntilProxyStarts") is True,
         "mesh/istio: holdApplicationUntilProxyStarts must be true")
    c.ok(str(config.get("proxyMetadata", {})
             .get("EXIT_ON_ZERO_ACTIVE_CONNECTIONS")) == "true",
         "mesh/istio: EXIT_ON_ZERO_ACTIVE_CONNECTIONS must be \"true\" so the "
         "proxy outlives the drain")
    a = annotations(linkerd)
    wait = a.get("config.alpha.linkerd.io/proxy-wait-before-exit-seconds")
    c.ok(wait is not None and needed < int(wait) < grace,
         f"mesh/linkerd: proxy-wait-before-exit-seconds ({wait}) must exceed "
         f"preStop + drain ({needed:g}s) and stay below "
         f"terminationGracePeriodSeconds ({grace})")


def render_with_kubectl(kdir, cfg_path, key, c):
    """Where kubectl is installed, renders the kustomization and both mesh
    components with it (kustomize's own view of the files)."""
    kubectl = shutil.which("kubectl")
    if not kubectl:
        print("note: kubectl not installed; kustomize rendering not checked")
        return
    with tempfile.TemporaryDirectory() as tmp:
        for mesh in (None, "istio", "linkerd"):
            overlay = os.path.join(tmp, mesh or "base")
            os.makedirs(overlay)
            base = os.path.relpath(kdir, overlay)
            text = ("apiVersion: kustomize.config.k8s.io/v1beta1\n"
                    f"kind: Kustomization\nresources: [{base}]\n")
            if mesh:
                text += f"components: [{base}/mesh/{mesh}]\n"
            with open(os.path.join(overlay, "kustomization.yaml"), "w") as f:
                f.write(text)
            r = subprocess.run([kubectl, "kustomize", overlay],
                               capture_output=True, text=True)
            if not c.ok(r.returncode == 0,
                        f"kubectl kustomize ({mesh or 'base'}): {r.stderr}"):
                continue
            docs = list(yaml.safe_load_all(r.stdout))
            maps = [d for d in docs if d and d.get("kind") == "ConfigMap"]
            with open(cfg_path, encoding="utf-8") as f:
                c.ok(maps and maps[0].get("data", {}).get(key) == f.read(),
                     f"kubectl kustomize ({mesh or 'base'}): the ConfigMap "
                     f"does not hold {cfg_path} as {key}")


# -------------------------------------------------------------- Dockerfile


def check_dockerfile(root, binary, ctx, c):
    path = os.path.join(root, "deploy/Dockerfile")
    stages, _ = parse_dockerfile(path)
    if not c.ok(len(stages) >= 2, "deploy/Dockerfile: expected a build and a "
                "runtime stage"):
        return
    for stage in stages:
        c.ok(re.search(r"bookworm|DEBIAN_IMAGE", stage["from"]),
             f"deploy/Dockerfile: FROM {stage['from']} is not Debian bookworm")
    build, runtime = stages[0], stages[-1]
    wanted = setup_build_packages(os.path.join(root, "scripts/setup.sh"))
    if c.ok(wanted, "scripts/setup.sh: no build package list before "
            "its \"# tests\" comment"):
        missing = sorted(set(wanted) - set(apt_installed(build)))
        c.ok(not missing, f"deploy/Dockerfile build stage lacks setup.sh's "
             f"build packages {missing}")
    c.ok(any(i == "RUN" and "-DCMAKE_BUILD_TYPE=Release" in a
             for i, a in build["instrs"]),
         "deploy/Dockerfile build stage must build with "
         "-DCMAKE_BUILD_TYPE=Release")

    # Runtime packages against ldd.
    listed = apt_installed(runtime)
    needed = library_packages(binary, c)
    missing = sorted(set(needed) - set(listed))
    c.ok(not missing, "deploy/Dockerfile runtime stage lacks "
         + ", ".join(f"{p} (for {', '.join(needed[p])})" for p in missing))
    extra = sorted(set(listed) - set(needed) - RUNTIME_EXTRAS)
    c.ok(not extra, f"deploy/Dockerfile runtime stage installs {extra}, which "
         "the gateway does not link")
    c.ok(RUNTIME_EXTRAS <= set(listed),
         f"deploy/Dockerfile runtime stage must install {RUNTIME_EXTRAS}")
    ctx["runtime_packages"] = listed

    def last(instr):
        values = [a for i, a in runtime["instrs"] if i == instr]
        return values[-1] if values else None

    user = last("USER") or ""
    m = re.fullmatch(r"(\d+)(?::(\d+))?", user)
    if c.ok(m, f"deploy/Dockerfile: USER {user!r} must be numeric uid[:gid]"):
        c.ok(int(m.group(1)) != 0, "deploy/Dockerfile: USER must not be root")
        c.ok(int(m.group(1)) == ctx.get("k8s_user"),
             f"deploy/Dockerfile USER {user} differs from the StatefulSet's "
             f"runAsUser {ctx.get('k8s_user')}")
        if m.group(2) and ctx.get("k8s_group") is not None:
            c.ok(int(m.group(2)) == ctx["k8s_group"],
                 f"deploy/Dockerfile group {m.group(2)} differs from "
                 f"runAsGroup {ctx['k8s_group']}")
    c.ok(last("STOPSIGNAL") == "SIGTERM", "deploy/Dockerfile: STOPSIGNAL "
         "must be SIGTERM (the gateway drains on it)")
    healthcheck = last("HEALTHCHECK") or "NONE"
    c.ok(healthcheck.upper().startswith("NONE") or "curl" not in healthcheck
         or "curl" in listed, "deploy/Dockerfile: HEALTHCHECK uses curl, "
         "which the runtime stage does not install")

    # ENTRYPOINT --config path, the baked-in config, EXPOSE, VOLUME.
    entry = last("ENTRYPOINT") or "[]"
    try:
        entry = yaml.safe_load(entry)
    except yaml.YAMLError:
        entry = None
    if not c.ok(isinstance(entry, list) and "--config" in entry[:-1],
                "deploy/Dockerfile: ENTRYPOINT must be exec form with "
                "--config FILE"):
        return
    config_path = entry[entry.index("--config") + 1]
    c.ok(config_path in ctx.get("k8s_config_paths", []),
         f"deploy/Dockerfile --config {config_path} is not where the "
         f"StatefulSet mounts the config ({ctx.get('k8s_config_paths')})")
    baked = [a.split() for i, a in runtime["instrs"]
             if i == "COPY" and not a.startswith("--from")]
    sources = [words[0] for words in baked if words[-1] == config_path]
    if not c.ok(len(sources) == 1, f"deploy/Dockerfile: no COPY of a default "
                f"config to {config_path}"):
        return
    image_cfg_path = os.path.join(root, sources[0])
    image_cfg = gateway_config(image_cfg_path, c)
    ctx["live_configs"].append(("image", image_cfg_path))
    with open(os.path.join(root, ".dockerignore"), encoding="utf-8") as f:
        ignore = [line.strip() for line in f if line.strip()
                  and not line.startswith("#")]
    c.ok("*" not in ignore or f"!{sources[0]}" in ignore,
         f".dockerignore excludes {sources[0]}, which the Dockerfile copies")
    ports = [listen_port(image_cfg[k]) for k in CONFIG_PORT_NAMES]
    exposed = [int(p.split("/")[0]) for i, a in runtime["instrs"]
               if i == "EXPOSE" for p in a.split()]
    c.ok(sorted(exposed) == sorted(ports), f"deploy/Dockerfile EXPOSE "
         f"{exposed} differs from {sources[0]}'s ports {ports}")
    c.ok(tuple(ports) == ctx.get("k8s_ports"), f"{sources[0]}'s ports {ports} "
         f"differ from the Kubernetes config's {ctx.get('k8s_ports')}")
    for key in CONFIG_PORT_NAMES:
        c.ok(listen_host(image_cfg[key]) in ("0.0.0.0", "::"),
             f"{sources[0]}: {key} must bind all interfaces in a container")
    spool_dir = os.path.dirname(str(image_cfg.get("spool", {}).get("path", "")))
    volumes = " ".join(a for i, a in runtime["instrs"] if i == "VOLUME")
    c.ok(spool_dir and f'"{spool_dir}"' in volumes or
         spool_dir in volumes.split(), f"deploy/Dockerfile: the spool folder "
         f"{spool_dir!r} is not a VOLUME")


# ----------------------------------------------------------------- systemd


def check_systemd(root, binary, c):
    unit_path = os.path.join(root, "deploy/systemd/conversions-gateway.service")
    cfg_path = os.path.join(root, "deploy/systemd/config.yaml")
    unit = parse_unit(unit_path)
    service = unit.get("Service", [])
    if not c.ok(service, f"{unit_path}: no [Service] section"):
        return
    cfg = gateway_config(cfg_path, c)

    def value(key):
        return unit_value(service, key)

    c.ok(value("Type") in ("simple", "exec"), "Type must be simple or exec: "
         "the gateway does not call sd_notify")
    exec_start = shlex.split(value("ExecStart") or "")
    c.ok(exec_start and exec_start[0].startswith("/"),
         "ExecStart must start with an absolute path")
    config_dir = "/etc/" + (value("ConfigurationDirectory") or "?")
    c.ok("--config" in exec_start[:-1] and
         exec_start[exec_start.index("--config") + 1] ==
         f"{config_dir}/config.yaml",
         f"ExecStart must pass --config {config_dir}/config.yaml")
    c.ok(value("User") and value("Group"), "User and Group must be set")
    state_dir = "/var/lib/" + (value("StateDirectory") or "?")
    spool = str(cfg.get("spool", {}).get("path", ""))
    c.ok(spool.startswith(state_dir + "/"),
         f"spool.path {spool} must be in the StateDirectory {state_dir}")
    stop = parse_systemd_time(value("TimeoutStopSec") or "")
    c.ok(stop is not None and stop > cfg["_drain_seconds"],
         f"TimeoutStopSec {value('TimeoutStopSec')} must exceed "
         f"shutdown_drain_timeout {cfg['_drain_seconds']:g}s")
    c.ok(value("KillSignal") in ("SIGTERM", "TERM", None),
         "KillSignal must be SIGTERM")
    c.ok(value("Restart") == "on-failure", "Restart must be on-failure")
    for key, want in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                      ("ProtectHome", "yes"), ("PrivateTmp", "yes")):
        c.ok(value(key) == want, f"{key} must be {want}")
    unit_name = os.path.basename(unit_path)
    credentials = {}
    for k, v in service:
        if k == "LoadCredential":
            name, _, source = v.partition(":")
            credentials[f"/run/credentials/{unit_name}/{name}"] = source
    for i, d in enumerate(cfg.get("destinations") or [{}]):
        if d.get("api_key_file"):
            c.ok(d["api_key_file"] in credentials,
                 f"deploy/systemd/config.yaml destinations[{i}].api_key_file "
                 f"{d['api_key_file']} is no LoadCredential= of the unit "
                 f"({sorted(credentials)})")
            source = credentials.get(d["api_key_file"], config_dir + "/")
            c.ok(source.startswith(config_dir + "/"),
                 f"LoadCredential source {source} must be in {config_dir}")
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        print("note: systemd-analyze not installed; unit not verified by it")
        return
    # `verify` needs the executable to exist: point it at the built one.
    with tempfile.TemporaryDirectory() as tmp:
        with open(unit_path, encoding="utf-8") as f:
            text = f.read()
        text = text.replace(f"ExecStart={exec_start[0]} ",
                            f"ExecStart={binary} ")
        copy = os.path.join(tmp, unit_name)
        with open(copy, "w", encoding="utf-8") as f:
            f.write(text)
        r = subprocess.run([analyze, "verify", copy], capture_output=True,
                           text=True)
        c.ok(r.returncode == 0 and not r.stderr.strip(),
             f"systemd-analyze verify: {r.stderr.strip()}")


# ---------------------------------------------------------------- live run


def rewrite_config(text, tmp):
    """Rewrites listen addresses, the spool path and endpoints for a loopback
    test run, line by line so that everything else stays as written."""
    out, seen = [], set()
    for line in text.splitlines():
        m = re.match(r"^(grpc_listen|http_listen):", line)
        if m:
            line = f"{m.group(1)}: 127.0.0.1:0"
            seen.add(m.group(1))
        m = re.match(r"^(\s+)path:", line)
        if m:
            line = f"{m.group(1)}path: {tmp}/spool.db"
        m = re.match(r"^(\s+(?:-\s+)?)endpoint:", line)
        if m:
            line = f"{m.group(1)}endpoint: http://127.0.0.1:9/v1/events"
        m = re.match(r"^(\s+(?:-\s+)?)api_key_file:", line)
        if m:
            line = f"{m.group(1)}api_key_file: {tmp}/api-key"
        out.append(line)
    for key in CONFIG_PORT_NAMES:
        if key not in seen:
            out.append(f"{key}: 127.0.0.1:0")
    return "\n".join(out) + "\n"


def http_get(address, path):
    try:
        with urllib.request.urlopen(f"http://{address}{path}", timeout=5) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except OSError as e:
        return None, str(e)


def run_gateway(binary, name, cfg_path, probe_paths, c):
    """Starts the gateway with a rewritten copy of `cfg_path`; checks it gets
    ready, answers `probe_paths`, accepts gRPC connections, and exits 0 on
    SIGTERM."""
    with open(cfg_path, encoding="utf-8") as f:
        original = f.read()
    with tempfile.TemporaryDirectory() as tmp:
        text = rewrite_config(original, tmp)
        # The rewrite must have changed only what it should.
        before, after = yaml.safe_load(original) or {}, yaml.safe_load(text)
        for key in CONFIG_PORT_NAMES:
            before[key] = after.get(key)
        if isinstance(before.get("spool"), dict) and "path" in before["spool"]:
            before["spool"]["path"] = after["spool"]["path"]
        for b, a in zip(before.get("destinations") or [],
                        after.get("destinations") or []):
            for key in ("endpoint", "api_key_file"):
                if key in b:
                    b[key] = a.get(key)
        if not c.ok(before == after, f"{name}: the test rewrite of {cfg_path} "
                    "changed more than addresses, paths and endpoints"):
            return
        config = os.path.join(tmp, "config.yaml")
        with open(config, "w", encoding="utf-8") as f:
            f.write(text)
        with open(os.path.join(tmp, "api-key"), "w", encoding="utf-8") as f:
            f.write("sk-deploy-check-dummy-key\n")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("OPENAI_")}
        for d in after.get("destinations") or [{}]:
            env[d.get("api_key_env", "OPENAI_CONVERSIONS_API_KEY")] = \
                "sk-deploy-check-dummy-key"
            env[d.get("pixel_id_env", "OPENAI_PIXEL_ID")] = "deploy-check-pixel"
        log_path = os.path.join(tmp, "gateway.log")
        log = open(log_path, "w", encoding="utf-8")
        proc = subprocess.Popen([binary, "--config", config], cwd=tmp, env=env,
                                stdout=subprocess.PIPE, stderr=log, text=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout],
                         daemon=True).start()
        try:
            ok = check_running(proc, lines, name, probe_paths, after, c)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
        if not ok and not c.quiet:
            with open(log_path, encoding="utf-8") as f:
                tail = f.read().splitlines()[-LOG_TAIL:]
            print(f"{name}: gateway log (last lines):\n  " + "\n  ".join(tail))


def check_running(proc, lines, name, probe_paths, cfg, c):
    addresses, deadline = {}, time.monotonic() + 60
    while len(addresses) < 2 and time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        key, _, value = line.strip().partition("=")
        if key in CONFIG_PORT_NAMES:
            addresses[key] = value
    if not c.ok(len(addresses) == 2, f"{name}: the gateway did not start "
                f"(exit code {proc.poll()})"):
        return False
    http = addresses["http_listen"]
    status = None
    while time.monotonic() < deadline and proc.poll() is None:
        status, _ = http_get(http, "/readyz")
        if status == 200:
            break
        time.sleep(0.05)  # polling, bounded by the deadline
    if not c.ok(status == 200, f"{name}: /readyz never answered 200"):
        return False
    for what, path in probe_paths:
        status, body = http_get(http, path)
        c.ok(status == 200, f"{name}: {what} path {path} answered {status}")
        if path == "/metrics":
            c.ok("conversions_ready 1" in body,
                 f"{name}: /metrics lacks conversions_ready 1")
    host, _, port = addresses["grpc_listen"].rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), 5).close()
        c.ok(True, "")
    except OSError as e:
        c.ok(False, f"{name}: gRPC port {addresses['grpc_listen']}: {e}")
    proc.send_signal(signal.SIGTERM)
    drain = parse_duration(cfg.get("shutdown_drain_timeout", "30s")) or 30
    try:
        code = proc.wait(timeout=drain + 15)
    except subprocess.TimeoutExpired:
        code = "still running"
    return c.ok(code == 0, f"{name}: exit code after SIGTERM was {code}, "
                "expected 0")


# --------------------------------------------------------------- self-test

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


# -------------------------------------------------------------------- main


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
