"""Checks deploy/kubernetes: the kustomization, the objects' structure, the
ports, probes, shutdown timing, security context, resources and the mesh
components, against the gateway config the ConfigMap holds."""

import os
import re
import shutil
import subprocess
import tempfile

import yaml

from checks.common import (CONFIG_PORT_NAMES, gateway_config, listen_host,
                           listen_port, load_yaml_docs, parse_quantity)


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
    c.ok(ready in (None, "/readyz", "/readyz?exclude=paused"),
         "readinessProbe must GET /readyz or /readyz?exclude=paused")

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
    # A component's own manifests exist; Istio's declares the API's host,
    # which a REGISTRY_ONLY mesh would refuse otherwise.
    hosts = []
    for path in (istio, linkerd):
        comp = (load_yaml_docs(path, c) or [{}])[0]
        for r in comp.get("resources") or []:
            rpath = os.path.join(os.path.dirname(path), r)
            if c.ok(os.path.isfile(rpath), f"{path}: resource {r} is missing"):
                for doc in load_yaml_docs(rpath, c):
                    if doc and doc.get("kind") == "ServiceEntry":
                        hosts += doc.get("spec", {}).get("hosts", [])
    c.ok("bzr.openai.com" in hosts,
         "mesh/istio: no ServiceEntry for bzr.openai.com (a REGISTRY_ONLY "
         "mesh would refuse every delivery)")

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
