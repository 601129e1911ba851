"""Checks deploy/Dockerfile (build and runtime packages, user, ports,
config path) and the systemd unit against their configs and the built
gateway."""

import os
import re
import shlex
import shutil
import subprocess
import tempfile

import yaml

from checks.common import (CONFIG_PORT_NAMES, RUNTIME_EXTRAS, apt_installed,
                           gateway_config, library_packages, listen_host,
                           listen_port, parse_dockerfile, parse_systemd_time,
                           parse_unit, setup_build_packages, unit_value)


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
        # Only complaints about this unit count; the host's own units may
        # add noise.
        ours = [line for line in r.stderr.splitlines() if unit_name in line]
        c.ok(r.returncode == 0 and not ours,
             f"systemd-analyze verify: {r.stderr.strip()}")
