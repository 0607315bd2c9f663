#!/usr/bin/env bash
# What gotrace-embassy's hooks cost an Embassy firmware (a measurement, not a test): instructions
# per poll of a yielding task under QEMU -icount shift=0 (Embassy alone, the hooks with tracing
# off, tracing on; one task, and 32 taking turns), and the flash and RAM the tracing
# adds on thumbv7em-none-eabihf (embassy/measure-firmware with feature `trace` and without), by
# section and by source crate.
set -euo pipefail
shopt -s inherit_errexit
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
  CARGO_TARGET_DIR="$(realpath -m "$CARGO_TARGET_DIR")"
fi
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
source scripts/install-missing.sh
install_targets thumbv7m-none-eabi thumbv7em-none-eabihf
install_packages qemu-system-arm:qemu-system-arm llvm-size:llvm python3:python3
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

sections() { llvm-size -A "$1" | awk '$1 ~ /^\.(text|rodata|data|bss)$/ {print $1, $2}'; }
with=$(build footprint-trace thumbv7em-none-eabihf)
without=$(build footprint-untraced thumbv7em-none-eabihf --no-default-features)
echo "== footprint on thumbv7em-none-eabihf (release, LTO): with the hooks and tracer, without, difference"
echo "   (the traced build's reporting of its own figures included: 'firmware' below)"
join <(sections "$with" | sort) <(sections "$without" | sort) |
  awk '{printf "%-8s %7d %7d %7d\n", $1, $2, $3, $2 - $3; d[$1] = $2 - $3}
       END {printf "flash (.text + .rodata + .data image): +%d bytes; static RAM (.data + .bss): +%d bytes, +%d beyond the 128 KiB trace channel\n",
            d[".text"] + d[".rodata"] + d[".data"], d[".data"] + d[".bss"], d[".data"] + d[".bss"] - 131072}'
echo "== .text by source crate"
python3 scripts/text_by_crate.py "$with" "$without"
