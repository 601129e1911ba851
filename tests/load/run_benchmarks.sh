#!/usr/bin/env bash
# Load benchmarks of conversions-gateway, each figure next to a baseline.
#
#   tests/load/run_benchmarks.sh            (from the repository root, after
#                                            building: cmake --build build)
#
# Phases (all servers on 127.0.0.1 with free ports, all stopped at the end):
#   (a) 1-event SendEvents against echo-server, a trivial gRPC server whose
#       SendEvents only answers ACCEPTED (the cost of gRPC itself on this
#       machine), and against the gateway, in ROUNDS rounds that each load
#       one, then the other, both servers running throughout. Ratio:
#       gateway/echo req/s, the median of the rounds' ratios; each figure
#       the median of its rounds; a round whose load failed or saw errors
#       is not counted. Pairing keeps a drift between two phases out of the
#       ratio (one echo phase before the gateway's swung from 24,000 to
#       39,000 req/s from one run to the next on one machine, the
#       gateway's far less); echo's rate can still change from one round to
#       the next, which the rounds' ratios, all printed, show.
#       Two more references, for reading the ratio:
#       - durable echo (echo-server --durable): answers only after writing
#         the events' ids to a file and fdatasyncing it, group-committed by
#         one thread. With CONCURRENCY requests outstanding, a server that
#         answers after an fdatasync serves at most CONCURRENCY requests per
#         (sync time + round trip), whatever its CPU cost: this is that
#         floor on this machine's disk. Ratio: gateway/durable echo.
#       - the gateway with its spool on tmpfs (TMPFS_DIR), where a sync
#         returns at once: its rate when the disk's latency is out of the
#         way, as with an NVMe drive with power-loss protection.
#       - both echo-server and the gateway again with WIDE_CONCURRENCY
#         requests outstanding: enough for the gateway's group commit to
#         fill, so that its rate is bound by its CPU cost, not the disk's
#         latency. Ratio: gateway/echo at that concurrency, and the best
#         rate of each across both concurrencies.
#   (b) 100-event SendEvents against the gateway (and echo, for reference).
#       In (a) and (b) the gateway's destination is paused (the sandbox
#       answers 401), so they measure intake alone: validate, normalize,
#       hash, spool with group commit, answer.
#   (c) End-to-end delivery to the sandbox API, on a fresh gateway:
#       sustained: events/s that reach the sandbox while 100-event requests
#       keep coming (intake and delivery then share the two CPUs);
#       drain: when the requests stop, the backlog they left is timed until
#       the sandbox has every accepted event: events/s, against (b). The
#       sandbox's own clock times it (its stats carry now_ms and the time it
#       recorded its last event), since polling a busy sandbox for a drain
#       of a second or two was off by tenths of a second.
#   (d) Peak RSS (VmHWM) of a gateway holding QUEUE_EVENTS events queued:
#       the sandbox answers 401 to everything, so nothing drains. Then the
#       sandbox accepts, and the drain of that queue is timed from its
#       first delivery to its last: events/s, against (b).
#
# Binaries, under BUILD_DIR:
#   tests/load/echo-server, tests/load/conversions-load     (required)
#   service/conversions-gateway        (phases with the gateway are skipped
#                                       when it is missing)
#   tests/sandbox/conversions-sandbox  ((a) and (b) then use a closed port
#                                       as the destination; (c), (d) skip)
#
# Environment (defaults in brackets):
#   BUILD_DIR      build tree [<repo>/build]
#   DURATION       measured time of each load phase [10s]
#   ROUNDS         (a)'s rounds of echo-server then gateway [5]
#   ROUND_DURATION measured time of each load of a round [5s]
#   WARMUP         unmeasured warm-up before each phase [2s]
#   CONCURRENCY    requests outstanding [64]
#   WIDE_CONCURRENCY  requests outstanding in (a)'s second pair [256]
#   CHANNELS       HTTP/2 connections of the load generator [2]
#   QUEUE_EVENTS   events queued for (d) [1000000]
#   FILL_TIMEOUT   cap on filling the queue in (d) [180s]
#   TMPFS_DIR      a tmpfs for (a)'s spool-on-tmpfs reference [/dev/shm];
#                  empty skips it
#   PHASES         the phases to run, any of a b c d [abcd]; "c" alone
#                  times delivery in about 30 s, e.g. to compare two builds
#                  in alternated runs (its ratios to (b) then read n/a)
#   KEEP_WORK=1    keep the work folder (configs, logs, spools) and say where
#
# With the defaults the whole run takes about 3 to 5 minutes. The last lines
# are a summary table; figures measured on a shared or busy machine vary.
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO_DIR/build}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-5}
ROUND_DURATION=${ROUND_DURATION:-5s}
WARMUP=${WARMUP:-2s}
CONCURRENCY=${CONCURRENCY:-64}
WIDE_CONCURRENCY=${WIDE_CONCURRENCY:-256}
CHANNELS=${CHANNELS:-2}
QUEUE_EVENTS=${QUEUE_EVENTS:-1000000}
FILL_TIMEOUT=${FILL_TIMEOUT:-180s}
TMPFS_DIR=${TMPFS_DIR-/dev/shm}
PHASES=${PHASES:-abcd}
if [[ ! $PHASES =~ ^[abcd\ ,]+$ || ! $PHASES =~ [abcd] ]]; then
  echo "PHASES: expected letters of a b c d, got '$PHASES'" >&2
  exit 2
fi

ECHO_BIN=$BUILD_DIR/tests/load/echo-server
LOAD_BIN=$BUILD_DIR/tests/load/conversions-load
GATEWAY_BIN=$BUILD_DIR/service/conversions-gateway
SANDBOX_BIN=$BUILD_DIR/tests/sandbox/conversions-sandbox

# The sandbox's defaults; the gateway reads the key from the environment.
SANDBOX_PIXEL=sandbox-pixel
export OPENAI_CONVERSIONS_API_KEY=sandbox-key

WORK=$(mktemp -d "${TMPDIR:-/tmp}/conversions-bench-XXXXXX")
PIDS=()

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Stops every process this script started: TERM, up to 30 s, then KILL.
cleanup() {
  local pid i
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for ((i = 0; i < 300; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
  [[ -z ${TMPFS_WORK:-} ]] || rm -rf "$TMPFS_WORK"
  if [[ ${KEEP_WORK:-0} == 1 ]]; then
    log "work folder kept: $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# want PHASE: true if PHASES names the phase (a, b, c or d).
want() { [[ $PHASES == *$1* ]]; }

# seconds DURATION: "10s" -> 10, "500ms" -> 0.5, "2m" -> 120, "7" -> 7.
seconds() {
  case $1 in
    *ms) awk -v v="${1%ms}" 'BEGIN { print v / 1000 }' ;;
    *s) echo "${1%s}" ;;
    *m) awk -v v="${1%m}" 'BEGIN { print v * 60 }' ;;
    *) echo "$1" ;;
  esac
}

# start NAME CMD...: runs CMD in the background, output in $WORK/NAME.out
# and .err; sets STARTED_PID.
start() {
  local name=$1
  shift
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
}

# forget PID: drops a finished process from the cleanup list.
forget() {
  local pid=$1 i rest=()
  for i in "${PIDS[@]}"; do [[ $i == "$pid" ]] || rest+=("$i"); done
  PIDS=("${rest[@]+"${rest[@]}"}")
}

# stop PID: TERM, wait up to 30 s, then KILL.
stop() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget "$pid"
}

# wait_line NAME KEY PID: prints the value of the first KEY=... line of
# $WORK/NAME.out; fails when PID exits first or after 30 s.
wait_line() {
  local file=$WORK/$1.out key=$2 pid=$3 i value
  for ((i = 0; i < 300; i++)); do
    value=$(sed -n "s/^$key=//p" "$file" | head -n 1)
    if [[ -n $value ]]; then
      echo "$value"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$1 exited early:"
      tail -n 20 "$WORK/$1.err" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  log "$1 printed no $key= line within 30 s"
  return 1
}

# http METHOD HOST:PORT PATH [BODY]: prints the response body.
http() {
  local method=$1 hostport=$2 path=$3 body=${4-}
  if command -v curl >/dev/null; then
    local data=()
    [[ -z $body ]] || data=(--data "$body")
    curl -sS --max-time 30 -X "$method" -H 'Content-Type: application/json' \
      "${data[@]+"${data[@]}"}" "http://$hostport$path"
    return
  fi
  local fd
  exec {fd}<>"/dev/tcp/${hostport%:*}/${hostport##*:}"
  printf '%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
    "$method" "$path" "$hostport" "${#body}" "$body" >&"$fd"
  timeout 30 cat <&"$fd" | sed '1,/^\r\{0,1\}$/d'
  exec {fd}>&-
}

# delivered SANDBOX: events the sandbox has recorded (duplicates once).
delivered() {
  http GET "$1" "/_sandbox/stats" | sed -n 's/.*"events":\([0-9]*\).*/\1/p'
}

# stat JSON NAME: the number NAME in a /_sandbox/stats answer. The sandbox
# stamps it with its own clock (now_ms) and with when it recorded its first
# and last events (first_event_ms, last_event_ms), so drains are timed
# without the error of polling a busy sandbox.
stat() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" <<<"$1"; }

# field LINE NAME: the value of NAME=... in a `result ...` line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

# rps LINE, eps LINE: a result line's requests or events per second.
rps() { field "$1" requests_per_second; }
eps() { field "$1" events_per_second; }

# median V...: the median of numbers (the mean of the middle two of an even
# count); nothing for none.
median() {
  (($#)) || return 0
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# clean LINE: true if a result line reports a rate above 0 and no errors.
clean() {
  [[ -n $1 && $(field "$1" errors) == 0 ]] &&
    awk -v r="$(rps "$1")" 'BEGIN { exit !(r + 0 > 0) }'
}

# ratio A B: A/B with two decimals, or n/a.
ratio() {
  awk -v a="${1:-}" -v b="${2:-}" 'BEGIN {
    if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b }'
}

# load NAME TARGET ARGS...: runs conversions-load, prints its result line.
load() {
  local name=$1 target=$2
  shift 2
  log "load $name: $*"
  local rc=0
  "$LOAD_BIN" --target "$target" --concurrency "$CONCURRENCY" \
    --channels "$CHANNELS" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" ||
    rc=$?
  sed 's/^/    /' "$WORK/$name.out" >&2
  if ((rc == 1)); then
    log "load $name failed:"
    cat "$WORK/$name.err" >&2
    return 1
  fi
  grep '^result ' "$WORK/$name.out" | tail -n 1
}

# start_sandbox NAME: starts a sandbox; sets SANDBOX (HOST:PORT) and
# SANDBOX_PID. It validates, deduplicates and counts what it receives but
# keeps no copy of the events (the real API keeps none a client can read
# back either); a million kept events would cost it gigabytes.
start_sandbox() {
  start "$1" "$SANDBOX_BIN" --listen 127.0.0.1:0 --no-keep-events
  SANDBOX_PID=$STARTED_PID
  SANDBOX=$(wait_line "$1" sandbox_listen "$SANDBOX_PID")
}

# start_gateway NAME ENDPOINT [SPOOL_DIR]: writes a config and starts the
# gateway, its spool in SPOOL_DIR [$WORK/NAME]; sets GW_TARGET (its gRPC
# HOST:PORT) and GATEWAY_PID. Fails when it does not come up.
start_gateway() {
  local name=$1 endpoint=$2 spool_dir=${3:-$WORK/$1}
  mkdir -p "$WORK/$name" "$spool_dir"
  cat >"$WORK/$name/config.yaml" <<EOF
grpc_listen: 127.0.0.1:0
http_listen: 127.0.0.1:0
log_level: warn
shutdown_drain_timeout: 2s
dispatcher:
  # A destination paused by 401s is probed each second, so that the drain
  # of the (d) queue starts as soon as the sandbox accepts.
  auth_probe_interval: 1s
spool:
  path: $spool_dir/spool.db
  max_queued_events: $((QUEUE_EVENTS * 2 + 1000000))
destinations:
  - name: default
    pixel_id: "$SANDBOX_PIXEL"
    api_key_env: OPENAI_CONVERSIONS_API_KEY
    endpoint: $endpoint
EOF
  start "$name" "$GATEWAY_BIN" --config "$WORK/$name/config.yaml"
  GATEWAY_PID=$STARTED_PID
  if ! GW_TARGET=$(wait_line "$name" grpc_listen "$GATEWAY_PID") ||
    ! GW_HTTP=$(wait_line "$name" http_listen "$GATEWAY_PID"); then
    stop "$GATEWAY_PID"
    return 1
  fi
}

# sync_totals HOST:PORT: the gateway's durability-sync totals from
# /metrics, "seconds_sum syncs calls_sum" (zeros when unreadable).
sync_totals() {
  http GET "$1" /metrics 2>/dev/null | awk '
    /^conversions_spool_sync_seconds_sum / { s = $2 }
    /^conversions_spool_sync_seconds_count / { n = $2 }
    /^conversions_spool_sync_calls_sum / { c = $2 }
    END { printf "%s %s %s\n", s + 0, n + 0, c + 0 }'
}

# sync_note BEFORE AFTER: what the syncs between two sync_totals did.
sync_note() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    split(a, x, " "); split(b, y, " "); n = y[2] - x[2]
    if (n > 0) printf "%d syncs, %.2f ms and %.1f calls each", n,
      1000 * (y[1] - x[1]) / n, (y[3] - x[3]) / n }'
}

# A loopback port nothing listens on (bound, then released).
closed_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo 9
}

for bin in "$ECHO_BIN" "$LOAD_BIN"; do
  if [[ ! -x $bin ]]; then
    echo "missing $bin: build first (cmake --build $BUILD_DIR)" >&2
    exit 1
  fi
done
HAVE_GATEWAY=0
[[ -x $GATEWAY_BIN ]] && HAVE_GATEWAY=1
HAVE_SANDBOX=0
[[ -x $SANDBOX_BIN ]] && HAVE_SANDBOX=1
((HAVE_GATEWAY)) || log "gateway binary not found at $GATEWAY_BIN: gateway phases skipped"
((HAVE_SANDBOX)) || log "sandbox binary not found at $SANDBOX_BIN: (c) and (d) skipped"

PHASE=(--warmup "$WARMUP" --duration "$DURATION")
ECHO1_RATE="" GW1_RATE="" A_RATIO="" ECHO100="" GW1="" GW100="" ECHO1D="" ECHO1W="" GW1W="" GW1T="" TMPFS_WORK="" DELIVERED_RATE="" BACKLOG="" DRAIN_RATE=""
RSS_MB="" RSS_NOW_MB="" FILL="" SPOOL_MB="" SYNC1="" QUEUE_DRAIN_RATE="" ROUND_ERRORS=0
ECHO1_RATES=() GW1_RATES=() A_RATIOS=() GW1_LINES=()

# ---- (a) in rounds: echo-server, then the gateway -------------------------
if want a || want b; then
  start echo "$ECHO_BIN" --listen 127.0.0.1:0
  ECHO_PID=$STARTED_PID
  ECHO_TARGET=$(wait_line echo grpc_listen "$ECHO_PID")
  log "echo-server on $ECHO_TARGET"

  # The gateway's destination is paused (the sandbox answers 401), so that
  # (a) and (b) measure intake alone.
  GATEWAY_UP=0
  if ((HAVE_GATEWAY)); then
    if ((HAVE_SANDBOX)); then
      start_sandbox sandbox-paused
      http POST "$SANDBOX" /_sandbox/faults '{"auth_failures": 100000000}' >/dev/null
      PAUSED_ENDPOINT=http://$SANDBOX/v1/events
    else
      PAUSED_ENDPOINT=http://127.0.0.1:$(closed_port)/v1/events
    fi
    if start_gateway gateway-intake "$PAUSED_ENDPOINT"; then
      GATEWAY_UP=1
      log "gateway (intake) on $GW_TARGET, destination $PAUSED_ENDPOINT"
    fi
  fi

  ROUND=(--warmup "$WARMUP" --duration "$ROUND_DURATION" --events-per-request 1)
  SYNC_BEFORE=""
  ((GATEWAY_UP)) && SYNC_BEFORE=$(sync_totals "$GW_HTTP")
  # A round counts only when its load ran clean (a rate, no failed request);
  # ROUND_ERRORS says how many did not.
  rounds=$ROUNDS
  want a || rounds=0
  for ((r = 1; r <= rounds; r++)); do
    line=$(load "echo-1-round$r" "$ECHO_TARGET" "${ROUND[@]}") || line=""
    echo_rate=""
    if clean "$line"; then
      echo_rate=$(rps "$line")
      ECHO1_RATES+=("$echo_rate")
    else
      ROUND_ERRORS=$((ROUND_ERRORS + 1))
    fi
    ((GATEWAY_UP)) || continue
    line=$(load "gateway-1-round$r" "$GW_TARGET" "${ROUND[@]}") || line=""
    gw_rate=""
    if clean "$line"; then
      gw_rate=$(rps "$line")
      GW1_RATES+=("$gw_rate")
      GW1_LINES+=("$line")
    else
      ROUND_ERRORS=$((ROUND_ERRORS + 1))
    fi
    if [[ -n $echo_rate && -n $gw_rate ]]; then
      A_RATIOS+=("$(ratio "$gw_rate" "$echo_rate")")
      log "round $r: echo $echo_rate, gateway $gw_rate req/s: ${A_RATIOS[-1]}"
    else
      log "round $r: a load failed or reported errors; not counted"
    fi
  done
  [[ -z $SYNC_BEFORE ]] || SYNC1=$(sync_note "$SYNC_BEFORE" "$(sync_totals "$GW_HTTP")")
  ECHO1_RATE=$(median "${ECHO1_RATES[@]+"${ECHO1_RATES[@]}"}")
  GW1_RATE=$(median "${GW1_RATES[@]+"${GW1_RATES[@]}"}")
  A_RATIO=$(median "${A_RATIOS[@]+"${A_RATIOS[@]}"}")
  # The latencies shown are those of the gateway round whose rate is
  # nearest the median.
  best_gap=""
  for line in "${GW1_LINES[@]+"${GW1_LINES[@]}"}"; do
    gap=$(awk -v a="$(rps "$line")" -v m="$GW1_RATE" 'BEGIN { d = a - m; print (d < 0 ? -d : d) }')
    if [[ -z $best_gap ]] || awk -v g="$gap" -v b="$best_gap" 'BEGIN { exit !(g < b) }'; then
      best_gap=$gap
      GW1=$line
    fi
  done

  # ---- (a)'s references and (b) ----------------------------------------------
  if want a; then
    ECHO1W=$(load echo-1-wide "$ECHO_TARGET" "${PHASE[@]}" --events-per-request 1 \
      --concurrency "$WIDE_CONCURRENCY") || true
  fi
  if want b; then
    ECHO100=$(load echo-100 "$ECHO_TARGET" "${PHASE[@]}" --events-per-request 100) || true
  fi
  stop "$ECHO_PID"

  if want a; then
    start echo-durable "$ECHO_BIN" --listen 127.0.0.1:0 --durable "$WORK/echo-durable.log"
    ECHO_PID=$STARTED_PID
    ECHO_TARGET=$(wait_line echo-durable grpc_listen "$ECHO_PID")
    log "echo-server --durable on $ECHO_TARGET"
    ECHO1D=$(load echo-durable-1 "$ECHO_TARGET" "${PHASE[@]}" --events-per-request 1) || true
    stop "$ECHO_PID"
  fi

  if ((HAVE_GATEWAY)); then
    if ((GATEWAY_UP)); then
      if want a; then
        GW1W=$(load gateway-1-wide "$GW_TARGET" "${PHASE[@]}" --events-per-request 1 \
          --concurrency "$WIDE_CONCURRENCY") || true
      fi
      if want b; then
        GW100=$(load gateway-100 "$GW_TARGET" "${PHASE[@]}" --events-per-request 100) || true
      fi
      stop "$GATEWAY_PID"
    fi
    # The same intake with the spool on tmpfs, where fdatasync returns at
    # once: what the gateway's own CPU cost allows at CONCURRENCY, as on a
    # disk whose syncs take microseconds (an NVMe drive with power-loss
    # protection). A reference for reading (a), not a durable setup.
    if want a && [[ -n $TMPFS_DIR && -w $TMPFS_DIR &&
      $(command stat -f -c %T "$TMPFS_DIR" 2>/dev/null) == tmpfs ]] &&
      TMPFS_WORK=$(mktemp -d "$TMPFS_DIR/conversions-bench-spool-XXXXXX") &&
      start_gateway gateway-tmpfs "$PAUSED_ENDPOINT" "$TMPFS_WORK"; then
      log "gateway (intake, spool on tmpfs $TMPFS_WORK) on $GW_TARGET"
      GW1T=$(load gateway-1-tmpfs "$GW_TARGET" "${PHASE[@]}" --events-per-request 1) || true
      stop "$GATEWAY_PID"
    fi
    [[ -z $TMPFS_WORK ]] || rm -rf "$TMPFS_WORK"
    if ((HAVE_SANDBOX)); then stop "$SANDBOX_PID"; fi
  fi
fi

# ---- (c) sustained delivery to the sandbox ----------------------------------
if want c && ((HAVE_GATEWAY && HAVE_SANDBOX)); then
  start_sandbox sandbox-delivery
  if start_gateway gateway-delivery "http://$SANDBOX/v1/events"; then
    log "gateway (delivery) on $GW_TARGET -> sandbox $SANDBOX"
    start load-delivery "$LOAD_BIN" --target "$GW_TARGET" \
      --concurrency "$CONCURRENCY" --channels "$CHANNELS" \
      --events-per-request 100 "${PHASE[@]}"
    LOAD_PID=$STARTED_PID
    # Sample the sandbox over the load's measured window.
    sleep "$(seconds "$WARMUP")"
    t0=$(date +%s.%N)
    d0=$(delivered "$SANDBOX")
    sleep "$(seconds "$DURATION")"
    t1=$(date +%s.%N)
    d1=$(delivered "$SANDBOX")
    DELIVERED_RATE=$(awk -v d0="$d0" -v d1="$d1" -v t0="$t0" -v t1="$t1" \
      'BEGIN { printf "%.1f\n", (d1 - d0) / (t1 - t0) }')
    wait "$LOAD_PID" || true
    forget "$LOAD_PID"
    sed 's/^/    /' "$WORK/load-delivery.out" >&2
    accepted=$(field "$(grep '^result ' "$WORK/load-delivery.out" | tail -n 1)" accepted)
    stats=$(http GET "$SANDBOX" /_sandbox/stats)
    d2=$(stat "$stats" events)
    t2=$(stat "$stats" now_ms)
    BACKLOG=$(( ${accepted:-0} - d2 ))
    log "delivered $((d1 - d0)) events in the window: $DELIVERED_RATE events/s; backlog after the load: $BACKLOG"
    # Drain: the backlog, from then until the sandbox recorded the last
    # accepted event.
    d3=$d2
    for ((i = 0; i < 1200 && d3 < ${accepted:-0}; i++)); do
      sleep 0.1
      d3=$(delivered "$SANDBOX")
    done
    t3=$(stat "$(http GET "$SANDBOX" /_sandbox/stats)" last_event_ms)
    if ((BACKLOG > 10000 && d3 >= ${accepted:-0} && t3 > t2)); then
      DRAIN_RATE=$(awk -v d="$((d3 - d2))" -v t0="$t2" -v t1="$t3" \
        'BEGIN { printf "%.1f\n", d * 1000 / (t1 - t0) }')
      log "drained the backlog of $BACKLOG events: $DRAIN_RATE events/s"
    else
      log "backlog $BACKLOG, delivered $d3 of ${accepted:-0}: no drain rate"
    fi
    stop "$GATEWAY_PID"
  fi
  stop "$SANDBOX_PID"
fi

# ---- (d) peak RSS with QUEUE_EVENTS queued ---------------------------------
if want d && ((HAVE_GATEWAY && HAVE_SANDBOX)); then
  start_sandbox sandbox-queue
  http POST "$SANDBOX" /_sandbox/faults '{"auth_failures": 100000000}' >/dev/null
  if start_gateway gateway-queue "http://$SANDBOX/v1/events"; then
    log "gateway (queue) on $GW_TARGET: queueing $QUEUE_EVENTS events"
    FILL=$(load queue-fill "$GW_TARGET" --events-per-request 100 \
      --total-events "$QUEUE_EVENTS" --duration "$FILL_TIMEOUT" \
      --count-file "$WORK/queue-count.txt") || true
    RSS_MB=$(awk '/^VmHWM:/ { printf "%.1f\n", $2 / 1024 }' \
      "/proc/$GATEWAY_PID/status" 2>/dev/null || true)
    RSS_NOW_MB=$(awk '/^VmRSS:/ { printf "%.1f\n", $2 / 1024 }' \
      "/proc/$GATEWAY_PID/status" 2>/dev/null || true)
    [[ -n $RSS_MB ]] || log "the gateway is gone; see $WORK/gateway-queue.err"
    SPOOL_MB=$(du -sk "$WORK/gateway-queue" | awk '{ printf "%.1f\n", $1 / 1024 }')
    log "queued $(cat "$WORK/queue-count.txt" 2>/dev/null || echo '?') events;" \
      "VmHWM ${RSS_MB} MB, VmRSS ${RSS_NOW_MB} MB, spool folder ${SPOOL_MB} MB;" \
      "sandbox saw $(delivered "$SANDBOX") events delivered"
    # The queue, drained: the sandbox accepts from now on. Timed from the
    # first batch recorded to the last, so the pause's probe interval is
    # not in it; the first batch (1,000 events at most) is not counted.
    queued=$(field "$FILL" accepted)
    http DELETE "$SANDBOX" /_sandbox/faults >/dev/null
    q1=0
    for ((i = 0; i < 3000 && q1 < ${queued:-0}; i++)); do
      sleep 0.1
      q1=$(delivered "$SANDBOX")
    done
    stats=$(http GET "$SANDBOX" /_sandbox/stats)
    u0=$(stat "$stats" first_event_ms)
    u1=$(stat "$stats" last_event_ms)
    if ((${queued:-0} > 1000 && q1 >= queued && u1 > u0)); then
      QUEUE_DRAIN_RATE=$(awk -v d="$((q1 - 1000))" -v t0="$u0" -v t1="$u1" \
        'BEGIN { printf "%.1f\n", d * 1000 / (t1 - t0) }')
      log "drained the queue of $queued events: $QUEUE_DRAIN_RATE events/s"
    else
      log "queue of ${queued:-?} events, delivered $q1: no drain rate"
    fi
    stop "$GATEWAY_PID"
  fi
  stop "$SANDBOX_PID"
fi

# ---- summary ----------------------------------------------------------------
lat() {
  [[ -n $1 ]] && printf 'p50 %s / p99 %s ms' "$(field "$1" p50_ms)" "$(field "$1" p99_ms)"
}
errs() { [[ -n $1 ]] && printf 'errors %s' "$(field "$1" errors)"; }
val() { if [[ -n $1 ]]; then echo "$1"; else echo skipped; fi; }
# best A B: the larger of two rates, either of which may be missing.
best() {
  awk -v a="${1:-}" -v b="${2:-}" 'BEGIN {
    if (a == "") print b; else if (b == "" || a + 0 >= b + 0) print a; else print b }'
}

{
  echo
  echo "conversions-gateway load benchmarks (PHASES=$PHASES DURATION=$DURATION WARMUP=$WARMUP ROUNDS=$ROUNDS ROUND_DURATION=$ROUND_DURATION CONCURRENCY=$CONCURRENCY CHANNELS=$CHANNELS, $(nproc) CPUs)"
  printf '%-44s %14s  %-22s %s\n' measurement value ratio notes
  if want a; then
    printf '%-44s %14s  %-22s %s\n' "(a) echo-server, 1-event req/s" "$(val "$ECHO1_RATE")" "" \
      "median of ${#ECHO1_RATES[@]} rounds: ${ECHO1_RATES[*]-}$( ((ROUND_ERRORS == 0)) || printf '; %s loads not counted (failed or with errors)' "$ROUND_ERRORS")"
    printf '%-44s %14s  %-22s %s\n' "(a) gateway, 1-event req/s" "$(val "$GW1_RATE")" \
      "gateway/echo ${A_RATIO:-n/a}" "median of the rounds' ratios: ${A_RATIOS[*]-}; $(lat "$GW1")${SYNC1:+; $SYNC1}"
    printf '%-44s %14s  %-22s %s\n' "(a) durable echo, 1-event req/s" "$(val "$(rps "$ECHO1D")")" \
      "gateway/durable $(ratio "$GW1_RATE" "$(rps "$ECHO1D")")" "$(lat "$ECHO1D") $(errs "$ECHO1D")"
    printf '%-44s %14s  %-22s %s\n' "(a) gateway, 1-event, spool on tmpfs" "$(val "$(rps "$GW1T")")" \
      "gateway/echo $(ratio "$(rps "$GW1T")" "$ECHO1_RATE")" "$(lat "$GW1T") $(errs "$GW1T")"
    printf '%-44s %14s  %-22s %s\n' "(a) echo-server, 1-event, $WIDE_CONCURRENCY outstanding" "$(val "$(rps "$ECHO1W")")" "" "$(lat "$ECHO1W") $(errs "$ECHO1W")"
    printf '%-44s %14s  %-22s %s\n' "(a) gateway, 1-event, $WIDE_CONCURRENCY outstanding" "$(val "$(rps "$GW1W")")" \
      "gateway/echo $(ratio "$(rps "$GW1W")" "$(rps "$ECHO1W")")" "$(lat "$GW1W") $(errs "$GW1W")"
    printf '%-44s %14s  %-22s %s\n' "(a) best of each, 1-event req/s" "$(val "$(best "$GW1_RATE" "$(rps "$GW1W")")")" \
      "gateway/echo $(ratio "$(best "$GW1_RATE" "$(rps "$GW1W")")" "$(best "$ECHO1_RATE" "$(rps "$ECHO1W")")")" "echo $(best "$ECHO1_RATE" "$(rps "$ECHO1W")")"
  fi
  if want b; then
    printf '%-44s %14s  %-22s %s\n' "(b) echo-server, 100-event events/s" "$(val "$(eps "$ECHO100")")" "" "$(lat "$ECHO100") $(errs "$ECHO100")"
    printf '%-44s %14s  %-22s %s\n' "(b) gateway, 100-event events/s" "$(val "$(eps "$GW100")")" \
      "gateway/echo $(ratio "$(eps "$GW100")" "$(eps "$ECHO100")")" "$(lat "$GW100") $(errs "$GW100")"
  fi
  if want c; then
    printf '%-44s %14s  %-22s %s\n' "(c) delivered under load, events/s" "$(val "$DELIVERED_RATE")" \
      "delivered/(b) $(ratio "$DELIVERED_RATE" "$(eps "$GW100")")" "${BACKLOG:+backlog after load $BACKLOG events}"
    printf '%-44s %14s  %-22s %s\n' "(c) backlog drained, events/s" "$(val "$DRAIN_RATE")" \
      "drain/(b) $(ratio "$DRAIN_RATE" "$(eps "$GW100")")" ""
  fi
  if want d; then
    printf '%-44s %14s  %-22s %s\n' "(c) queue of (d) drained, events/s" "$(val "$QUEUE_DRAIN_RATE")" \
      "drain/(b) $(ratio "$QUEUE_DRAIN_RATE" "$(eps "$GW100")")" ""
    printf '%-44s %14s  %-22s %s\n' "(d) peak RSS, $QUEUE_EVENTS queued, MB" "$(val "$RSS_MB")" "" \
      "${FILL:+fill $(eps "$FILL") events/s, accepted $(field "$FILL" accepted); VmRSS $RSS_NOW_MB MB; spool $SPOOL_MB MB}"
  fi
} | tee "$WORK/summary.txt"
