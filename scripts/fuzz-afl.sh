#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers with AFL++ through cargo-afl, on the
# stable toolchain (docs/testing.md). Each target runs for SECONDS, seeded with
# the shared corpus (shared/fixtures beside the checkout), fuzz/seeds/ and the
# kept regression inputs. Exits 1 when a target crashed, printing the input to
# keep in crates/protocols/tests/fuzz-regressions/TARGET/ once it is fixed.
#
#   scripts/fuzz-afl.sh [SECONDS] [TARGET...]   (default 30 s; every target)
#
# Needs cargo-afl (`cargo install cargo-afl --locked`: it builds AFL++ with
# make and cc, from build-essential). CRMSYNC_FUZZ_DIR keeps the runs (default
# target/afl-runs); a longer local run: scripts/fuzz-afl.sh 3600 mime
set -euo pipefail
trap 'echo "fuzz-afl: stopped at line $LINENO (exit $?)" >&2' ERR
cd "$(dirname "$0")/.."

secs="${1:-30}"
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(mime imap pop3 smtp dav_xml ical vcard ews)
command -v cargo-afl >/dev/null || { echo "fuzz-afl: cargo-afl is missing: cargo install cargo-afl --locked" >&2; exit 2; }

export CARGO_TARGET_DIR="${CRMSYNC_FUZZ_TARGET_DIR:-$PWD/target/afl}"
# Not --locked: fuzz/ is outside the workspace, so its lock file follows the
# workspace crates it depends on (which change) whenever it is built.
cargo afl build --release --manifest-path fuzz/Cargo.toml
bin="$CARGO_TARGET_DIR/release/crmsync-fuzz"

fixtures=""
for d in "$PWD" "$PWD/.." "$PWD/../.."; do
  if [ -d "$d/shared/fixtures" ]; then fixtures="$d/shared/fixtures"; break; fi
done
[ -n "$fixtures" ] || { echo "fuzz-afl: shared/fixtures not found beside the checkout" >&2; exit 2; }

work="${CRMSYNC_FUZZ_DIR:-$PWD/target/afl-runs}"
rm -rf "$work"
crashed=0
for t in "${targets[@]}"; do
  in="$work/$t/in" out="$work/$t/out"
  mkdir -p "$in"
  # Small seeds fuzz fastest: the first 40 corpus files under 16 KiB.
  case "$t" in
    mime | ical | vcard) corpus="$fixtures/$t" ;;
    dav_xml) corpus="$fixtures/ical" ;;
    ews) corpus="$fixtures/ews/gromox" ;;
    *) corpus="" ;;
  esac
  if [ -n "$corpus" ]; then
    # sed reads to the end (head would quit early: SIGPIPE upstream, and
    # pipefail would end the script without a word).
    find "$corpus" -type f -size -16k ! -name 'LICENSE*' ! -name '*.md' | sort | sed -n '1,40p' |
      while read -r f; do cp "$f" "$in/$(echo "$f" | md5sum | cut -c1-12)"; done
  fi
  for extra in "fuzz/seeds/$t" "crates/protocols/tests/fuzz-regressions/$t"; do
    [ -d "$extra" ] && cp "$extra"/* "$in/" 2>/dev/null || true
  done
  [ -n "$(ls -A "$in")" ] || echo seed >"$in/seed"
  echo "== afl: $t for ${secs}s ($(ls "$in" | wc -l) seeds)"
  AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SUPPRESS_SIGNAL_HANDLERS=1 \
    cargo afl fuzz -V "$secs" -t 5000+ -i "$in" -o "$out" -- "$bin" "$t" >"$work/$t/afl.log" 2>&1 || {
    tail -20 "$work/$t/afl.log"; echo "fuzz-afl: afl-fuzz failed on $t" >&2; exit 1; }
  grep -a -E "Statistics|corpus items|execs" "$work/$t/afl.log" | tail -2 || true
  for c in "$out"/default/crashes/id:*; do
    [ -e "$c" ] || continue
    crashed=1
    echo "fuzz-afl: $t CRASHED on $c:"
    python3 -c 'import sys; print(repr(open(sys.argv[1], "rb").read()))' "$c" 2>/dev/null || od -c "$c" | head -20
    "$bin" "$t" <"$c" 2>&1 | tail -5 || true
  done
done
exit "$crashed"
