#!/usr/bin/env bash
# Idle memory and CPU of the desktop app with 50 configured mailboxes
# (docs/benchmarks.md, "Desktop app at idle"). Usage:
#   scripts/bench-desktop-idle.sh [APP] [CRMSYNC]      (defaults: target/release binaries)
# Runs under Xvfb + dbus-run-session; prints RSS of the app and its WebKit
# processes after a settle time, and their CPU use over the next minute.
set -euo pipefail
cd "$(dirname "$0")/.."
app=${1:-target/release/crmsync-desktop}
cli=${2:-target/release/crmsync}
settle=${SETTLE:-20}
window=${WINDOW:-60}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CRMSYNC_KEYRING=off HOME="$tmp/home" XDG_RUNTIME_DIR="$tmp"
mkdir -p "$HOME"
db="$tmp/crm.db"
"$cli" --db "$db" profile add Office --kind imap-smtp --incoming-host 127.0.0.1 \
  --incoming-security none --outgoing-security none --allow-insecure >/dev/null
for i in $(seq 1 50); do
  "$cli" --db "$db" user add "user$i@example.test" --name "User $i" >/dev/null
  echo "secret$i" | "$cli" --db "$db" mailbox add "user$i@example.test" --profile Office --password-stdin >/dev/null
done

cat > "$tmp/measure.sh" <<'MEASURE'
set -euo pipefail
  "$app" --db "$db" >"$tmp/app.log" 2>&1 &
  pid=$!
  sleep "$settle"
  pids() { echo "$pid"; pgrep -P "$pid" || true; }
  rss() { local t=0; for p in $(pids); do t=$((t + $(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo "$t"; }
  ticks() { local t=0; for p in $(pids); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
  echo "processes:"; for p in $(pids); do printf '  %s %s kB\n' "$(cat /proc/$p/comm)" "$(awk '/VmRSS/ {print $2}' /proc/$p/status)"; done
   r0=$(rss); t0=$(ticks)
  sleep "$window"
   r1=$(rss); t1=$(ticks); hz=$(getconf CLK_TCK)
  echo "rss_total_kb_after_${settle}s=$r0"
  echo "rss_total_kb_after_$((settle + window))s=$r1"
  awk -v d=$((t1 - t0)) -v hz="$hz" -v w="$window" 'BEGIN { printf "cpu_percent_of_one_core_over_%ds=%.2f\n", w, 100 * d / hz / w }'
  kill "$pid"; wait "$pid" 2>/dev/null || true
MEASURE
export app db tmp settle window
xvfb-run -a dbus-run-session -- bash "$tmp/measure.sh"
