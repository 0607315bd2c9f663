#!/usr/bin/env bash
# The firmware measurements of issue 4 (not tests): instructions per traced scheduling event under
# QEMU -icount shift=0 (tracing on vs off in the same firmware), the encoder's footprint on
# thumbv7em-none-eabihf, and the drain rate of `gotrace record --qemu`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
fw="$CARGO_TARGET_DIR/firmware-example"
cargo build -q -p gotrace-host-tools --bin gotrace
gotrace="$CARGO_TARGET_DIR/debug/gotrace"
out="$(mktemp -d)"

echo "== instructions per scheduling event (release, opt-level s, thumbv7m, mps2-an385, -icount shift=0)"
(cd firmware-example && cargo build -q --release --features measure --target-dir "$fw/measure")
elf="$fw/measure/thumbv7m-none-eabi/release/gotrace-firmware-example"
# One long generation, mostly dropped in lossy mode (so record exits 1): only the figures matter.
{ "$gotrace" record --qemu --lossy "$elf" -o "$out/lossy.trace" || true; } | grep "measure:"

echo "== drain rate of gotrace record --qemu (same firmware, lossless, QEMU without icount)"
"$gotrace" record --qemu --icount off "$elf" -o "$out/stream.trace" | grep "received"

echo "== footprint on thumbv7em-none-eabihf (release, no LTO so that symbols keep their crate)"
(cd firmware-example && CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  cargo build -q --release --target thumbv7em-none-eabihf --target-dir "$fw/footprint")
elf="$fw/footprint/thumbv7em-none-eabihf/release/gotrace-firmware-example"
llvm-size -A "$elf" | grep -E '^\.(text|rodata|data|bss) '
llvm-nm --size-sort -S --demangle "$elf" | python3 -c '
import collections, sys
sizes = collections.Counter()
for line in sys.stdin:
    parts = line.split(None, 3)
    if len(parts) < 4:
        continue
    size, kind, name = int(parts[1], 16), parts[2].lower(), parts[3]
    # The firmware sink implements an encoder trait: that code belongs to the firmware.
    if "gotrace_encoder" in name and "Shared" not in name and "gotrace_firmware_example" not in name:
        owner = "encoder (out-of-line functions)"
    elif "gotrace_scheduler" in name or "Shared" in name:
        owner = "scheduler (with encoder code inlined)"
    else:
        owner = "rest of the firmware"
    sizes[(owner, {"t": ".text", "r": ".rodata", "d": ".data", "b": ".bss"}.get(kind, kind))] += size
for (owner, section), size in sorted(sizes.items()):
    print(f"{owner:40} {section:8} {size:7} bytes")
'
rm -rf "$out"
