#!/usr/bin/env bash
# The README's main command: build the example firmware, run it on an emulated Cortex-M3 under
# QEMU, record its trace over RTT, validate it, and print the summary, each task's times
# (gotrace stats) and the .trace path.
# Installs what is missing first (the thumbv7m target, qemu-system-arm).
# Usage: [FIRMWARE_FEATURES=until-stopped] scripts/record-qemu.sh [OUTPUT.trace] [more gotrace record options...]
# OUTPUT is named from where the script is called (default firmware-example.trace there); options
# alone (`scripts/record-qemu.sh --lossy`) keep the default output.
set -euo pipefail

# Before the cd below: a relative OUTPUT went to the repository instead of the caller's
# directory, and a first option was taken for OUTPUT ('-o --lossy': "a value is required").
output=firmware-example.trace
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  output="$1"
  shift
fi
case "$output" in
  /*) ;;
  *) output="$PWD/$output" ;;
esac
for arg in "$@"; do
  case "$arg" in
    -o | -o?* | --output | --output=*)
      echo "scripts/record-qemu.sh: give the output file as the first argument (scripts/record-qemu.sh OUTPUT.trace ...), not with $arg" >&2
      exit 2
      ;;
  esac
done
# A relative CARGO_TARGET_DIR is the caller's, as cargo takes it: made absolute before the cd (the
# firmware builds in its own directory, which would take it from there).
case "${CARGO_TARGET_DIR:-}" in
  "" | /*) ;;
  *) CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR" ;;
esac
cd "$(dirname "$0")/.."

source scripts/install-missing.sh
install_targets thumbv7m-none-eabi
install_packages qemu-system-arm:qemu-system-arm

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# FIRMWARE_FEATURES: more of the firmware's features, comma-separated (`until-stopped`: it runs
# until the recording's --duration or Ctrl-C); each set builds in a directory of its own.
features="${FIRMWARE_FEATURES:-}"
firmware_dir="$CARGO_TARGET_DIR/firmware-example/${features:-default}"
(cd firmware-example && cargo build --target thumbv7m-none-eabi ${features:+--features "$features"} \
  --target-dir "$firmware_dir")
cargo build -p gotrace-host-tools --bin gotrace
"$CARGO_TARGET_DIR/debug/gotrace" record --qemu \
  "$firmware_dir/thumbv7m-none-eabi/debug/gotrace-firmware-example" \
  -o "$output" "$@"
# Where each task's time went, as the viewer's goroutine analysis gives it.
echo
"$CARGO_TARGET_DIR/debug/gotrace" stats "$output"
echo
# Quoted for the shell (%q): a path with spaces is pasted as one argument.
printf 'trace written to %s; open it with: go tool trace %q\n' "$output" "$output"
