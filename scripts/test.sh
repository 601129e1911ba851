#!/usr/bin/env bash
# Installs what is missing, builds everything and runs the whole test suite:
# unit and integration tests (ctest), a bounded libFuzzer run, and a
# benchmark smoke run. This is the README's test command and what CI runs.
#
# Environment: BUILD_DIR (default build), FUZZ_SECONDS (default 60),
# FUZZ_TAG_SECONDS and FUZZ_TAG_TREE_SECONDS (default 30 each),
# CONVERSIONS_WERROR (default ON in CI, OFF otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

BUILD_DIR=${BUILD_DIR:-build}
FUZZ_DIR=${FUZZ_DIR:-${BUILD_DIR}-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TAG_SECONDS=${FUZZ_TAG_SECONDS:-30}
FUZZ_TAG_TREE_SECONDS=${FUZZ_TAG_TREE_SECONDS:-30}
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

echo "== fuzz ${FUZZ_SECONDS}s"
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
fuzz_log="$FUZZ_DIR/fuzz.log"
if ! "$FUZZ_DIR/tests/fuzz/event_mapper_fuzzer" -max_total_time="$FUZZ_SECONDS" \
    -print_final_stats=1 -artifact_prefix="$FUZZ_DIR/" "$corpus" \
    tests/fuzz/corpus >"$fuzz_log" 2>&1; then
  tail -n 60 "$fuzz_log"
  echo "fuzz: the fuzzer found a crash; the input is in $FUZZ_DIR/" >&2
  exit 1
fi
grep -E '^Done|stat::number_of_executed_units' "$fuzz_log"

echo "== tag fuzz ${FUZZ_TAG_SECONDS}s"
tag_corpus=$(mktemp -d)
trap 'rm -rf "$corpus" "$tag_corpus"' EXIT
tag_log="$FUZZ_DIR/tag_fuzz.log"
if ! "$FUZZ_DIR/tests/fuzz/tag_mapper_fuzzer" \
    -max_total_time="$FUZZ_TAG_SECONDS" -print_final_stats=1 \
    -artifact_prefix="$FUZZ_DIR/" "$tag_corpus" tests/fuzz/tag_corpus \
    >"$tag_log" 2>&1; then
  tail -n 60 "$tag_log"
  echo "fuzz: the tag fuzzer found a crash; the input is in $FUZZ_DIR/" >&2
  exit 1
fi
grep -E '^Done|stat::number_of_executed_units' "$tag_log"

echo "== tag tree fuzz ${FUZZ_TAG_TREE_SECONDS}s"
tree_corpus=$(mktemp -d)
trap 'rm -rf "$corpus" "$tag_corpus" "$tree_corpus"' EXIT
tree_log="$FUZZ_DIR/tag_tree_fuzz.log"
if ! "$FUZZ_DIR/tests/fuzz/tag_tree_fuzzer" \
    -max_total_time="$FUZZ_TAG_TREE_SECONDS" -print_final_stats=1 \
    -artifact_prefix="$FUZZ_DIR/" "$tree_corpus" tests/fuzz/tag_tree_corpus \
    >"$tree_log" 2>&1; then
  tail -n 60 "$tree_log"
  echo "fuzz: the tag tree fuzzer found a divergence; the input is in $FUZZ_DIR/" >&2
  exit 1
fi
grep -E '^Done|stat::number_of_executed_units' "$tree_log"

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
