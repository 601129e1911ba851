"""Shared pieces of the deploy check: the result collector and parsers for
gateway configs, Dockerfiles, systemd units, scripts/setup.sh, and the
library-to-package mapping of `ldd` and `dpkg -S`."""

import os
import re
import shlex
import subprocess

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
