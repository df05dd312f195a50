#!/usr/bin/env bash
# Installs what building and testing the web app needs, skipping whatever is already there:
# the wasm32 target, trunk 0.21.14, wasm-bindgen-cli at exactly Cargo.lock's wasm-bindgen
# version, and (Debian) chromium, chromium-driver and binaryen (wasm-opt). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.21.14
# wasm-bindgen-cli must equal the wasm-bindgen library version, or the generated JS mismatches.
WBG_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$WBG_VERSION" ] || { echo "setup: wasm-bindgen not found in Cargo.lock" >&2; exit 1; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "setup: adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! trunk --version 2>/dev/null | grep -q " $TRUNK_VERSION"; then
  echo "setup: installing trunk $TRUNK_VERSION"
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q " $WBG_VERSION"; then
  echo "setup: installing wasm-bindgen-cli $WBG_VERSION (matches Cargo.lock)"
  cargo install wasm-bindgen-cli --version "=$WBG_VERSION"
fi

missing=()
command -v wasm-opt >/dev/null || missing+=(binaryen)
if [ "${SETUP_BROWSER:-1}" = 1 ]; then
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
echo "setup: ok (trunk $TRUNK_VERSION, wasm-bindgen $WBG_VERSION)"
