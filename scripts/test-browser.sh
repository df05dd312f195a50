#!/usr/bin/env bash
# Browser tests: builds dist/ in release, runs the wasm-bindgen tests (tests/web.rs) in headless
# Chromium through chromedriver, then the end-to-end test (tests/e2e/e2e.mjs) against dist/.
# Exits non-zero on any failure; the last line is "browser: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null || { echo "browser: setup failed"; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"

passed=0; failed=0
step() { # name, command...
  local name=$1; shift
  echo "== $name"
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "!! $name failed"; fi
}

step "trunk build --release" trunk build --release --offline

# wasm-bindgen-test-runner drives Chromium through chromedriver; webdriver.json adds the
# headless/no-sandbox flags.
wasm_tests() {
  CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}" \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  WASM_BINDGEN_TEST_TIMEOUT=120 \
    cargo test --release --target wasm32-unknown-unknown --test web
}
step "wasm-bindgen tests (headless Chromium)" wasm_tests

e2e() {
  if [ ! -d tests/e2e/node_modules/playwright-core ]; then
    (cd tests/e2e && npm install --no-audit --no-fund --silent) || return 1
  fi
  node tests/e2e/e2e.mjs --dist dist
}
step "end-to-end (headless Chromium)" e2e

echo "browser: $passed passed, $failed failed"
[ "$failed" = 0 ]
