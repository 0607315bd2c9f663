# Sourced first by the firmware measurements (measure-firmware.sh, measure-embassy.sh): moves to
# the repository's root, with CARGO_TARGET_DIR made absolute from the caller's directory first (a
# relative one would put the builds somewhere else than where they are read back), installs what
# they need, and defines the footprint table both print.
set -euo pipefail
# A failed build inside $(...) must stop the script, not print the sizes of no firmware.
shopt -s inherit_errexit
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
  CARGO_TARGET_DIR="$(realpath -m "$CARGO_TARGET_DIR")"
fi
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
source scripts/install-missing.sh
install_targets thumbv7m-none-eabi thumbv7em-none-eabihf
# Debian's llvm package brings llvm-nm, llvm-objdump and llvm-symbolizer with llvm-size.
install_packages qemu-system-arm:qemu-system-arm llvm-size:llvm python3:python3

# footprint WITH.elf WITHOUT.elf: the sections of both builds and their difference, in bytes,
# then the flash and static RAM the difference is. .data is counted twice over: its initial image
# is flash, its contents RAM.
footprint() {
  join <(sections "$1" | sort) <(sections "$2" | sort) |
    awk '{printf "%-8s %7d %7d %7d\n", $1, $2, $3, $2 - $3; d[$1] = $2 - $3}
         END {printf "flash (.text + .rodata + .data image): +%d bytes; static RAM (.data + .bss): +%d bytes\n",
              d[".text"] + d[".rodata"] + d[".data"], d[".data"] + d[".bss"]}'
}
sections() { llvm-size -A "$1" | awk '$1 ~ /^\.(text|rodata|data|bss)$/ {print $1, $2}'; }
