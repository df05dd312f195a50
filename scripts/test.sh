#!/usr/bin/env bash
# The project's one test command (README "Testing"; CI calls it): formatting, lints on both
# targets, the wasm32 build of the library, native unit + integration tests, the browser tests,
# and the CUDA compile check. Set VGG_SKIP_BROWSER=1 or VGG_SKIP_CUDA=1 to leave those out.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "setup (installs only what is missing)"
scripts/setup.sh

step "rustfmt"
cargo fmt --check

step "clippy (native)"
cargo clippy --all-targets -- -D warnings

step "clippy + check (wasm32)"
cargo clippy --all-targets --target wasm32-unknown-unknown -- -D warnings
cargo clippy --all-targets --target wasm32-unknown-unknown --features relaxed-simd -- -D warnings
cargo check --lib --target wasm32-unknown-unknown

step "native tests"
cargo test

# Left out only when asked: a missing script is a failure, not a silent skip.
if [ "${VGG_SKIP_BROWSER:-0}" != 1 ]; then
  step "browser tests"
  scripts/test-browser.sh
fi

if [ "${VGG_SKIP_CUDA:-0}" != 1 ]; then
  step "CUDA compile check"
  scripts/cuda-check.sh
fi

step "all tests passed"
