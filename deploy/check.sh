#!/usr/bin/env bash
# Checks deploy/ (Dockerfile, Kubernetes manifests, systemd unit, configs)
# against itself and against the built gateway; see deploy/check_deploy.py
# for the list. scripts/test.sh runs it after the build.
#
#   deploy/check.sh [GATEWAY_BINARY]     (default $BUILD_DIR/service/conversions-gateway)
#
# Needs python3 with PyYAML (python3-yaml), ldd and dpkg; uses kubectl and
# systemd-analyze where installed. Listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
gateway=${1:-${BUILD_DIR:-build}/service/conversions-gateway}
if [ ! -x "$gateway" ]; then
  echo "deploy/check.sh: no gateway binary at $gateway; build it first" >&2
  exit 1
fi
# Debian's python3 first: python3-yaml (scripts/setup.sh) installs there,
# while a python3 earlier on PATH (pyenv, a venv) may lack PyYAML.
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the work tree
for python in /usr/bin/python3 python3; do
  if "$python" -c 'import yaml' 2>/dev/null; then
    exec "$python" deploy/check_deploy.py --gateway "$gateway" --root .
  fi
done
echo "deploy/check.sh: no python3 with PyYAML; run scripts/setup.sh" >&2
exit 1
