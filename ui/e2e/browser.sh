#!/bin/sh
# The "browser" of the desktop E2E (the app's CRMSYNC_BROWSER): instead of
# opening the sign-in page it hands the URL to the Rust test, which plays the
# browser against the authorization server and follows its redirect back to
# the app's loopback listener.
set -eu
printf '%s\n' "$1" > "$E2E_OUT/control/authorize-url.tmp"
mv "$E2E_OUT/control/authorize-url.tmp" "$E2E_OUT/control/authorize-url"
