#!/usr/bin/env bash
# One desktop E2E session, run inside `dbus-run-session` by src-tauri/tests/e2e.rs:
# Xvfb, dunst (the notification server), dbus-monitor on
# org.freedesktop.Notifications, tauri-driver, then the Selenium client.
# Every process started here is stopped on exit.
set -euo pipefail
: "${E2E_OUT:?}" "${E2E_APP:?}"
here="$(cd "$(dirname "$0")" && pwd)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# Xvfb picks a free display and writes its number to fd 3.
exec 3> "$E2E_OUT/display"
Xvfb -displayfd 3 -screen 0 1280x900x24 -nolisten tcp > "$E2E_OUT/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -s "$E2E_OUT/display" ] && break; sleep 0.1; done
export DISPLAY=":$(head -1 "$E2E_OUT/display")"

dbus-monitor --session "type='method_call',interface='org.freedesktop.Notifications',member='Notify'" \
  > "$E2E_OUT/notifications.log" 2>&1 &
pids+=($!)
dunst > "$E2E_OUT/dunst.log" 2>&1 &
pids+=($!)

port=${E2E_DRIVER_PORT:-4444}
tauri-driver --port "$port" --native-port $((port + 1)) > "$E2E_OUT/tauri-driver.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  (exec 9<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

E2E_DRIVER_URL="http://127.0.0.1:$port/" node "$here/desktop.mjs"
