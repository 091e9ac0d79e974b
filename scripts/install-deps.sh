#!/usr/bin/env bash
# Installs the Debian packages crmsync needs. Never starts a system service:
# the test harness runs Dovecot, Postfix and Radicale itself, as child processes.
#
#   scripts/install-deps.sh desktop   build and run the desktop app
#   scripts/install-deps.sh test      everything the test suite needs (includes desktop and e2e)
#   scripts/install-deps.sh e2e       the desktop end-to-end test's session: Xvfb, D-Bus, dunst, WebKitWebDriver
set -euo pipefail

what="${1:-test}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

desktop_pkgs=(build-essential pkg-config curl ca-certificates
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libsoup-3.0-dev
  libayatana-appindicator3-1)
server_pkgs=(dovecot-imapd dovecot-pop3d dovecot-lmtpd postfix radicale python3 openssl)

# Desktop E2E (src-tauri/tests/e2e.rs): a headless X server, a session bus, a
# notification server and WebKit's WebDriver. tauri-driver comes from cargo (.ci/run).
e2e_pkgs=(xvfb dbus dunst webkit2gtk-driver)

pkgs=("${desktop_pkgs[@]}")
[ "$what" = "test" ] && pkgs+=("${server_pkgs[@]}" "${e2e_pkgs[@]}")
[ "$what" = "e2e" ] && pkgs+=("${e2e_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages already installed"
  exit 0
fi

# A policy-rc.d that says "no" keeps the packages' postinst scripts from
# starting dovecot or postfix as system services; removed again afterwards.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  made_policy=1
fi
trap '[ "$made_policy" = 1 ] && $sudo rm -f "$policy"' EXIT

echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo -E apt-get install -y -q --no-install-recommends "${missing[@]}"
