#!/usr/bin/env bash
# Installs what is missing, builds everything and runs the whole test suite:
# unit and integration tests (ctest), a bounded libFuzzer run, and a
# benchmark smoke run. This is the README's test command and what CI runs.
#
# Environment: BUILD_DIR (default build), FUZZ_SECONDS (default 60),
# FUZZ_TAG_SECONDS, FUZZ_TAG_TREE_SECONDS and FUZZ_TRACK_JSON_SECONDS
# (default 30 each),
# CONVERSIONS_WERROR (default ON in CI, OFF otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

BUILD_DIR=${BUILD_DIR:-build}
FUZZ_DIR=${FUZZ_DIR:-${BUILD_DIR}-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TAG_SECONDS=${FUZZ_TAG_SECONDS:-30}
FUZZ_TAG_TREE_SECONDS=${FUZZ_TAG_TREE_SECONDS:-30}
FUZZ_TRACK_JSON_SECONDS=${FUZZ_TRACK_JSON_SECONDS:-30}
WERROR=${CONVERSIONS_WERROR:-$([ "${CI:-}" = "true" ] && echo ON || echo OFF)}
JOBS=$(nproc)

echo "== build (${BUILD_DIR}, -Werror ${WERROR})"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCONVERSIONS_WERROR="$WERROR" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"

echo "== fuzz build (${FUZZ_DIR}, clang)"
cmake -S . -B "$FUZZ_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DCONVERSIONS_FUZZ=ON \
  -DCONVERSIONS_WERROR="$WERROR" >/dev/null
cmake --build "$FUZZ_DIR" -j "$JOBS"

echo "== benchmark smoke run"
"$BUILD_DIR/tests/bench/mapping_benchmark" --benchmark_min_time=0.05 | tail -1
# Fails unless every appended event is drained again.
"$BUILD_DIR/tests/bench/spool_benchmark" --events=20000 | tail -4

# fuzz NAME SECONDS SEEDS: runs tests/fuzz/NAME for SECONDS on a fresh
# corpus seeded from SEEDS; a finding (crash or broken invariant) fails the
# run, its input kept in $FUZZ_DIR.
fuzz_dirs=()
trap 'rm -rf "${fuzz_dirs[@]}"' EXIT
fuzz() {
  local name=$1 seconds=$2 seeds=$3 corpus log
  corpus=$(mktemp -d)
  fuzz_dirs+=("$corpus")
  log="$FUZZ_DIR/$name.log"
  echo "== $name ${seconds}s"
  if ! "$FUZZ_DIR/tests/fuzz/$name" -max_total_time="$seconds" \
      -print_final_stats=1 -artifact_prefix="$FUZZ_DIR/" "$corpus" "$seeds" \
      >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $name found a problem; the input is in $FUZZ_DIR/" >&2
    exit 1
  fi
  grep -E '^Done|stat::number_of_executed_units' "$log"
}
fuzz event_mapper_fuzzer "$FUZZ_SECONDS" tests/fuzz/corpus
fuzz tag_mapper_fuzzer "$FUZZ_TAG_SECONDS" tests/fuzz/tag_corpus
fuzz tag_tree_fuzzer "$FUZZ_TAG_TREE_SECONDS" tests/fuzz/tag_tree_corpus
fuzz track_json_fuzzer "$FUZZ_TRACK_JSON_SECONDS" tests/fuzz/track_json_corpus

echo "== run command smoke test (scripts/run.sh with RUN_ONCE=1)"
run_dir=$(mktemp -d)
if ! RUN_ONCE=1 BUILD_DIR="$BUILD_DIR" RUN_DIR="$run_dir" GRPC_LISTEN=127.0.0.1:0 \
    HTTP_LISTEN=127.0.0.1:0 OPENAI_CONVERSIONS_API_KEY= bash scripts/run.sh \
    >"$run_dir/run.txt" 2>&1 || ! grep -q "state: DELIVERED" "$run_dir/run.txt"; then
  cat "$run_dir/run.txt"
  echo "run command smoke test failed" >&2
  exit 1
fi
echo "run command: demo events delivered to the sandbox"
rm -rf "$run_dir"

echo "== deploy check (deploy/check.sh: manifests, image, unit, live gateway)"
bash deploy/check.sh "$BUILD_DIR/service/conversions-gateway"

echo "== ctest"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
