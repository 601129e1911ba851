#!/usr/bin/env bash
# The Quick start's run command: installs what is missing, builds, starts
# conversions-gateway and sends a few demo events with conversions-cli.
#
# Without OPENAI_CONVERSIONS_API_KEY it also starts the local sandbox API and
# points the default destination at it, then shows what the sandbox
# received. With OPENAI_CONVERSIONS_API_KEY and OPENAI_PIXEL_ID set it serves
# the real API; the demo events are then only validated by the API
# (validate_only), never recorded as conversions.
#
# The gateway keeps running until Ctrl-C (it drains and exits 0).
# Environment: GRPC_LISTEN (127.0.0.1:50051), HTTP_LISTEN (127.0.0.1:8080),
# RUN_DIR (./data/run), BUILD_DIR (build), RUN_ONCE=1 to stop after the demo.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
RUN_DIR=${RUN_DIR:-./data/run}
GRPC_LISTEN=${GRPC_LISTEN:-127.0.0.1:50051}
HTTP_LISTEN=${HTTP_LISTEN:-127.0.0.1:8080}
mkdir -p "$RUN_DIR"

echo "== build"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target conversions-gateway \
  conversions-cli conversions-sandbox
GATEWAY="$BUILD_DIR/service/conversions-gateway"
CLI="$BUILD_DIR/cli/conversions-cli"
SANDBOX="$BUILD_DIR/tests/sandbox/conversions-sandbox"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# Waits for "KEY=value" on the first lines of FILE; prints the value.
wait_for_line() {
  local file=$1 key=$2
  for _ in $(seq 1 100); do
    if grep -q "^$key=" "$file" 2>/dev/null; then
      grep "^$key=" "$file" | head -1 | cut -d= -f2
      return 0
    fi
    sleep 0.1
  done
  echo "run: no $key line in $file" >&2
  return 1
}

sandbox_url=""
if [ -z "${OPENAI_CONVERSIONS_API_KEY:-}" ]; then
  echo "== no OPENAI_CONVERSIONS_API_KEY: starting the local sandbox API"
  "$SANDBOX" --listen 127.0.0.1:0 >"$RUN_DIR/sandbox.out" 2>"$RUN_DIR/sandbox.log" &
  pids+=($!)
  sandbox_addr=$(wait_for_line "$RUN_DIR/sandbox.out" sandbox_listen)
  sandbox_url="http://$sandbox_addr"
  export OPENAI_CONVERSIONS_API_KEY=sandbox-key
  export OPENAI_PIXEL_ID=sandbox-pixel
  endpoint="$sandbox_url/v1/events"
  validate_flag=""
else
  if [ -z "${OPENAI_PIXEL_ID:-}" ]; then
    echo "run: set OPENAI_PIXEL_ID with OPENAI_CONVERSIONS_API_KEY" >&2
    exit 2
  fi
  endpoint=https://bzr.openai.com/v1/events
  validate_flag="--validate-only"
fi

cat >"$RUN_DIR/gateway.yaml" <<YAML
grpc_listen: $GRPC_LISTEN
http_listen: $HTTP_LISTEN
spool:
  path: $RUN_DIR/spool.db
dispatcher:
  linger: 100ms
destinations:
  - name: default
    pixel_id_env: OPENAI_PIXEL_ID
    api_key_env: OPENAI_CONVERSIONS_API_KEY
    endpoint: $endpoint
YAML

echo "== starting conversions-gateway"
"$GATEWAY" --config "$RUN_DIR/gateway.yaml" >"$RUN_DIR/gateway.out" 2>"$RUN_DIR/gateway.log" &
gateway_pid=$!
pids=("$gateway_pid" "${pids[@]}")
grpc_addr=$(wait_for_line "$RUN_DIR/gateway.out" grpc_listen)
http_addr=$(wait_for_line "$RUN_DIR/gateway.out" http_listen)
echo "gRPC $grpc_addr, HTTP http://$http_addr (/healthz /readyz /metrics), log $RUN_DIR/gateway.log"
export CONVERSIONS_TARGET=$grpc_addr

# The spool keeps what earlier runs accepted, and its dedup would answer
# a second run's demo events "duplicate": each run's ids get its own
# suffix.
run_suffix=$(date +%s)
demo_events="$RUN_DIR/demo_events.json"
sed "s/\"demo_\([a-z]*_[0-9]*\)\"/\"demo_\1_$run_suffix\"/" \
  deploy/examples/demo_events.json >"$demo_events"
echo "== sending deploy/examples/demo_events.json, ids suffixed _$run_suffix (one event is invalid on purpose)"
if [ -n "$validate_flag" ]; then
  "$CLI" validate --validate-only "$demo_events" || true
else
  "$CLI" send "$demo_events" || true
fi

if [ -n "$sandbox_url" ]; then
  echo "== what the API side (sandbox) received"
  for _ in $(seq 1 50); do
    count=$(curl -s "$sandbox_url/_sandbox/events" | grep -o '"id":"demo_[a-z_0-9]*"' | wc -l || true)
    [ "$count" -ge 3 ] && break
    sleep 0.1
  done
  curl -s "$sandbox_url/_sandbox/events"
  echo
  "$CLI" status --type order_created --id "demo_order_1001_$run_suffix" || true
fi

if [ "${RUN_ONCE:-0}" = "1" ]; then
  echo "== RUN_ONCE=1: stopping"
  exit 0
fi
echo "== gateway running; Ctrl-C to stop (it drains, then exits)"
wait "$gateway_pid"
