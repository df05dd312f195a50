#!/usr/bin/env bash
# Browser tests: builds dist/ in release, runs the wasm-bindgen tests (tests/web.rs, and the
# kernel tests for both worker builds) in headless Chromium through chromedriver, then the
# end-to-end test (tests/e2e/e2e.mjs) against dist/.
# Exits non-zero on any failure; the last line is "browser: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null || { echo "browser: setup failed"; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"

# Counts individual tests from each runner's summary line; a step that fails without one
# (e.g. the build) counts as one failure.
passed=0; failed=0
log=$(mktemp)
step() { # name, command...
  local name=$1; shift
  echo "== $name"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local p f
  p=$(grep -oE '([0-9]+) passed' "$log" | tail -1 | grep -oE '[0-9]+')
  f=$(grep -oE '([0-9]+) failed' "$log" | tail -1 | grep -oE '[0-9]+')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  if [ "$rc" != 0 ] && [ "${f:-0}" = 0 ]; then failed=$((failed + 1)); fi
  [ "$rc" = 0 ] || echo "!! $name failed"
}

echo "== trunk build --release"
trunk build --release --offline || { echo "browser: 0 passed, 1 failed (build)"; exit 1; }

# wasm-bindgen-test-runner drives Chromium through chromedriver; webdriver.json adds the
# headless/no-sandbox flags.
wasm_tests() {
  CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}" \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  WASM_BINDGEN_TEST_TIMEOUT=120 \
    cargo test --release --target wasm32-unknown-unknown --test web
}
step "wasm-bindgen tests (headless Chromium)" wasm_tests

# The kernel tests (src/kernels/tests.rs) on wasm32, where matmul runs the simd128 kernels: once
# as the plain worker is built, once as the relaxed-SIMD worker is.
kernel_tests() { # extra cargo args
  CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}" \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  WASM_BINDGEN_TEST_TIMEOUT=120 \
    cargo test --release --target wasm32-unknown-unknown --lib "$@" kernels::
}
step "kernel tests, wasm32 simd128 (headless Chromium)" kernel_tests
step "kernel tests, wasm32 relaxed SIMD (headless Chromium)" kernel_tests --features relaxed-simd

e2e() {
  if [ ! -d tests/e2e/node_modules/playwright-core ]; then
    (cd tests/e2e && npm install --no-audit --no-fund --silent) || return 1
  fi
  node tests/e2e/e2e.mjs --dist dist
}
step "end-to-end (headless Chromium)" e2e

echo "browser: $passed passed, $failed failed"
[ "$failed" = 0 ]
