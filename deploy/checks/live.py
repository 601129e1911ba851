"""Starts the gateway with a config file from deploy/, rewritten for a
loopback test run, and checks that it gets ready, answers its probe paths
and exits 0 on SIGTERM."""

import os
import queue
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import yaml

from checks.common import CONFIG_PORT_NAMES, LOG_TAIL, parse_duration


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
        # --check-config must pass every config the gateway starts with.
        check = subprocess.run([binary, "--check-config", "--config", config],
                               cwd=tmp, env=env, capture_output=True,
                               text=True, timeout=60)
        c.ok(check.returncode == 0 and "config ok" in check.stdout,
             f"{name}: --check-config exited {check.returncode}: "
             f"{check.stderr.strip()[:300]}")
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
