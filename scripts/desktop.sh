#!/usr/bin/env bash
# Builds and starts the crmsync desktop app (tray + admin window) on the
# embedded SQLite store, installing what it needs first. Extra arguments go to the app.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh desktop
npm --prefix ui ci --no-audit --no-fund
npm --prefix ui run build
exec cargo run --release --locked -p crmsync-desktop -- "$@"
