#!/usr/bin/env bash
# Installs what is missing, then builds and serves the web app on http://127.0.0.1:8080/.
set -euo pipefail
cd "$(dirname "$0")/.."
SETUP_BROWSER=0 scripts/setup.sh
exec trunk serve --release --offline --address 127.0.0.1 "$@"
