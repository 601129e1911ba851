#!/usr/bin/env bash
# Installs every Debian 12 package that building, running and testing
# conversions-gateway needs. Idempotent, and quiet when all is present.
# Run as root (or with sudo available).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev
  libabsl-dev libssl-dev libicu-dev libsqlite3-dev libcpp-httplib-dev
  libyaml-cpp-dev nlohmann-json3-dev libisal-dev libgoogle-perftools-dev
  # tests, fuzzing and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev rapidjson-dev
  clang libclang-rt-14-dev
  # deploy/check.sh
  python3 python3-yaml
  # client_stubs/: the Python stubs' runtime, for their examples and tests;
  # openssl makes the TLS test's certificate; the Prometheus client's parser
  # reads the gateway's /metrics there, as a Prometheus server would
  python3-grpcio python3-protobuf openssl python3-prometheus-client
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
