#!/usr/bin/env bash
# The firmware measurements of issue 4 (not tests): instructions per traced scheduling event under
# QEMU -icount shift=0 (tracing on vs off in the same firmware, every batch copied into a trace
# channel that has room for all of them, so the count is the same in every run), the encoder's
# footprint on thumbv7em-none-eabihf (the firmware built with tracing vs without: feature
# `trace`), and the drain rate of `gotrace record --qemu`. The footprint is given by symbol and by
# source crate (DWARF inline frames: the encoder's inline fast paths inside the scheduler's
# functions count as the encoder's).
source "$(dirname "$0")/measure-common.sh"
fw="$CARGO_TARGET_DIR/firmware-example"
cargo build -q -p gotrace-host-tools --bin gotrace
gotrace="$CARGO_TARGET_DIR/debug/gotrace"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# Every measured build is the firmware without its default feature `flight-recorder`, so that the
# figures stay the encoder's and its transport's, comparable with those before the flight recorder
# (whose own cost rtt/README.md gives, "The flight recorder").
board=(--no-default-features --features board-mps2)

echo "== instructions per scheduling event (release, thumbv7m, mps2-an385, -icount shift=0)"
# With a trace channel that holds all that the measured rounds write (feature large-trace-channel).
(cd firmware-example && cargo build -q --release "${board[@]}" \
  --features measure,large-trace-channel --target-dir "$fw/measure")
elf="$fw/measure/thumbv7m-none-eabi/release/gotrace-firmware-example"
# One long generation, mostly dropped in lossy mode (so record exits 1): only the figures matter.
# The measured rounds themselves fit whole in the measure build's trace channel, so the figure is
# the same in every run; the firmware reports how many of their batches were dropped, and flags
# the measurement invalid if any was or if the channel could have wrapped: then this fails.
measure=$({ "$gotrace" record --qemu --lossy "$elf" -o "$out/lossy.trace" || true; } | grep "measure:")
echo "$measure"
if grep -q "measure: invalid" <<<"$measure" ||
  ! grep -q "batches dropped during the measured rounds: 0$" <<<"$measure"; then
  echo "measure-firmware.sh: the measurement is invalid (batches dropped during the measured rounds, the trace channel may have wrapped, or the firmware did not report): the figure depends on when the host read, not repeatable" >&2
  exit 1
fi

echo "== drain rate of gotrace record --qemu (the same firmware on the usual 8 KiB trace channel, lossless, QEMU without icount)"
(cd firmware-example && cargo build -q --release "${board[@]}" --features measure \
  --target-dir "$fw/drain")
drain_elf="$fw/drain/thumbv7m-none-eabi/release/gotrace-firmware-example"
"$gotrace" record --qemu --icount off "$drain_elf" -o "$out/stream.trace" | grep "received"

# The footprint: the shipped release profile (LTO), with tracing and without. Sections in bytes;
# .data is counted twice over: its initial image is flash, its contents RAM.
build() { # $1: name, rest: cargo arguments
  local name=$1
  shift
  (cd firmware-example && cargo build -q --release --target thumbv7em-none-eabihf \
    --target-dir "$fw/footprint-$name" "$@")
  echo "$fw/footprint-$name/thumbv7em-none-eabihf/release/gotrace-firmware-example"
}
with=$(build trace "${board[@]}" --features trace)
without=$(build untraced "${board[@]}")
echo "== footprint on thumbv7em-none-eabihf (release, LTO): with tracing, without, difference"
footprint "$with" "$without"

echo "== where the difference goes (symbols of the two LTO builds: size with - without)"
for elf in "$with" "$without"; do
  llvm-nm --size-sort -S --demangle "$elf" | sed -E 's/::h[0-9a-f]{16}$//' >"$out/$(basename "$(dirname "$(dirname "$(dirname "$elf")")")").syms"
done
python3 - "$out/footprint-trace.syms" "$out/footprint-untraced.syms" <<'EOF'
import collections, sys

def load(path):
    sizes = collections.Counter()
    for line in open(path):
        parts = line.split(None, 3)
        if len(parts) == 4:
            sizes[(parts[2].lower(), parts[3].strip())] += int(parts[1], 16)
    return sizes

def owner(name):
    # The RTT transport (gotrace-rtt: the sink and ring, which implement the encoder's Sink, so
    # their names hold the encoder's too) and the records it writes.
    if "gotrace_rtt::" in name or "gotrace_rtt_protocol" in name or "gotrace_wire" in name:
        return "RTT transport (gotrace-rtt: sink, ring, records)"
    # The trace clock (gotrace-cortex-m-clock): CYCCNT or the board's timer, and its readings.
    if "gotrace_cortex_m_clock" in name:
        return "trace clock (gotrace-cortex-m-clock)"
    if "gotrace_encoder" in name and "gotrace_scheduler" not in name:
        return "encoder (out-of-line functions)"
    if "gotrace_scheduler" in name:
        return "scheduler (calls into the encoder, inline fast path)"
    if "SCHED" in name:
        return "scheduler state (encoder, sink)"
    return "rest of the firmware (its own tracing calls, memcpy, ...)"

with_, without = load(sys.argv[1]), load(sys.argv[2])
totals = collections.Counter()
for key in set(with_) | set(without):
    kind, name = key
    section = {"t": ".text", "r": ".rodata", "d": ".data", "b": ".bss"}.get(kind, kind)
    totals[(owner(name), section)] += with_[key] - without[key]
for (who, section), size in sorted(totals.items()):
    if size:
        print(f"{who:58} {section:8} {size:+7} bytes")
EOF

echo "== the same difference by source crate (.text; each instruction counted for the innermost"
echo "   frame of its inline stack that is in one of the project's crates, so the encoder's inline"
echo "   fast paths in the scheduler's functions count as the encoder's)"
python3 scripts/text_by_crate.py "$with" "$without"
