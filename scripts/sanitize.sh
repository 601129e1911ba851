#!/usr/bin/env bash
# Builds everything with AddressSanitizer and UBSan (gcc) and runs the whole
# ctest suite with them: memory errors, leaks and undefined behaviour in the
# service, the CLI, the sandbox and the tests themselves. Not part of
# scripts/test.sh (CI): on two cores the build takes about an hour.
#
# Environment: BUILD_DIR (default build-sanitize), CTEST_ARGS (extra
# arguments for ctest, e.g. "-R Dispatcher").
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

BUILD_DIR=${BUILD_DIR:-build-sanitize}
JOBS=$(nproc)

echo "== sanitizer build (${BUILD_DIR})"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCONVERSIONS_SANITIZE=ON >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"

echo "== ctest under AddressSanitizer and UBSan"
# A finding fails its test: UBSan stops at the first report, ASan always.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# shellcheck disable=SC2086  # CTEST_ARGS is a list of arguments
ctest --test-dir "$BUILD_DIR" -j "$JOBS" --timeout 300 --output-on-failure \
  ${CTEST_ARGS:-}
