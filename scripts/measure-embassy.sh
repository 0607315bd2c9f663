#!/usr/bin/env bash
# What gotrace-embassy's hooks cost an Embassy firmware (a measurement, not a test): instructions
# per poll of a yielding task under QEMU -icount shift=0 (Embassy alone, the hooks with tracing
# off, tracing on; one task, and 32 taking turns), and the flash and RAM the tracing
# adds on thumbv7em-none-eabihf (embassy/measure-firmware with feature `trace` and without), by
# section and by source crate.
source "$(dirname "$0")/measure-common.sh"
dir="$CARGO_TARGET_DIR/embassy-measure"

build() { # $1: name, $2: target, rest: cargo arguments; prints the ELF's path
  local name=$1 target=$2
  shift 2
  (cd embassy/measure-firmware && cargo build -q --release --target "$target" \
    --target-dir "$dir/$name" "$@")
  echo "$dir/$name/$target/release/gotrace-embassy-measure"
}
run() { # $1: ELF; fails if the firmware says its figure is invalid (exit status 1)
  qemu-system-arm -machine mps2-an385 -cpu cortex-m3 -icount shift=0 -nographic \
    -semihosting-config enable=on,target=native -kernel "$1"
}

echo "== instructions per poll of a yielding task, release, thumbv7m, mps2-an385, -icount shift=0"
run "$(build alone thumbv7m-none-eabi --no-default-features)"
run "$(build hooks thumbv7m-none-eabi)"
echo "== the same, 32 tasks taking turns, a tracer of 32 task slots"
run "$(build alone-32 thumbv7m-none-eabi --no-default-features --features tasks-32)"
run "$(build hooks-32 thumbv7m-none-eabi --features tasks-32)"

with=$(build footprint-trace thumbv7em-none-eabihf)
without=$(build footprint-untraced thumbv7em-none-eabihf --no-default-features)
echo "== footprint on thumbv7em-none-eabihf (release, LTO): with the hooks and tracer, without, difference"
echo "   (the traced build's reporting of its own figures included: 'firmware' below; the static"
echo "   RAM includes the 128 KiB trace channel, 131072 bytes)"
footprint "$with" "$without"
echo "== .text by source crate"
python3 scripts/text_by_crate.py "$with" "$without"
