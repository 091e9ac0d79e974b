#!/usr/bin/env bash
# Installs the Debian packages crmsync needs. Never starts a system service:
# the test harness runs Dovecot, Postfix and Radicale itself, as child processes.
#
#   scripts/install-deps.sh desktop   build and run the desktop app
#   scripts/install-deps.sh test      everything the test suite needs (includes desktop and e2e)
#   scripts/install-deps.sh e2e       the desktop end-to-end test's session: Xvfb, D-Bus, dunst, WebKitWebDriver
#   scripts/install-deps.sh --print [SET]
#                                     print the command it would run to install every
#                                     package of SET, and exit
#   scripts/install-deps.sh --dry-run [SET]
#                                     run the whole install branch for every package of
#                                     SET, installed or not, with apt-get --simulate
#                                     (CI runs this, so the branch that a fresh machine
#                                     takes is exercised on a machine that has them all)
#
# Works as root (CI, a fresh machine) and as a user with sudo.
set -euo pipefail

mode=install
case "${1:-}" in
  --print) mode=print; shift ;;
  --dry-run) mode=dry-run; shift ;;
esac
what="${1:-test}"
case "$what" in
  desktop | test | e2e) ;;
  *) echo "install-deps: unknown set '$what' (desktop, test or e2e)" >&2; exit 2 ;;
esac

# The command prefix that runs a command as root: nothing when we are root,
# sudo (keeping DEBIAN_FRONTEND) otherwise. An array, so that an empty prefix
# is no word at all (a string "$sudo -E apt-get" ran the command "-E" as root).
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo --preserve-env=DEBIAN_FRONTEND)

# build-essential also builds AFL++ when .ci/run installs cargo-afl (scripts/fuzz-afl.sh).
desktop_pkgs=(build-essential pkg-config curl ca-certificates
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libsoup-3.0-dev
  libayatana-appindicator3-1)
# python3-jwt and python3-cryptography: the bearer-token auth plugin the OAuth2
# tests give Radicale (tests/radicale/oauth_auth.py); radicale does not pull them in.
# python3-lxml: the EWS emulator (tests/ews/server.py) validates every request against the
# EWS schema; python3-pycryptodome: its NTLM check (MD4, which OpenSSL 3 dropped);
# libxml2-utils: xmllint, which checks every request the EWS client writes against the schema.
server_pkgs=(dovecot-imapd dovecot-pop3d dovecot-lmtpd postfix radicale xandikos python3 openssl
  python3-jwt python3-cryptography python3-lxml python3-pycryptodome libxml2-utils)

# Desktop E2E (src-tauri/tests/e2e.rs): a headless X server, a session bus, a
# notification server and WebKit's WebDriver. tauri-driver comes from cargo (.ci/run).
e2e_pkgs=(xvfb dbus dunst webkit2gtk-driver)

pkgs=("${desktop_pkgs[@]}")
[ "$what" = "test" ] && pkgs+=("${server_pkgs[@]}" "${e2e_pkgs[@]}")
[ "$what" = "e2e" ] && pkgs+=("${e2e_pkgs[@]}")

apt_install=(apt-get install -y -q --no-install-recommends)
[ "$mode" = dry-run ] && apt_install+=(--simulate)

if [ "$mode" = print ]; then
  echo "${as_root[*]}${as_root[*]:+ }${apt_install[*]} ${pkgs[*]}"
  exit 0
fi

missing=()
for p in "${pkgs[@]}"; do
  if [ "$mode" = dry-run ]; then
    missing+=("$p")
  else
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  fi
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
  printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
  "${as_root[@]}" chmod 755 "$policy"
  made_policy=1
fi
trap 'if [ "$made_policy" = 1 ]; then "${as_root[@]}" rm -f "$policy"; fi' EXIT

verb=installing; [ "$mode" = dry-run ] && verb="simulating (apt-get --simulate)"
echo "install-deps: $verb ${#missing[@]} of ${#pkgs[@]} packages: ${missing[*]}"
echo "postfix postfix/main_mailer_type select No configuration" | "${as_root[@]}" debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" "${apt_install[@]}" "${missing[@]}"
