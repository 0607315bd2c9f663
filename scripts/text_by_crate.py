"""The .text of two builds of a firmware (with tracing, without) by source crate: each
instruction counted for the innermost frame of its inline stack that is in one of the project's
crates (DWARF inline frames, through llvm-symbolizer), so that the encoder's inline fast paths
inside the scheduler's functions count as the encoder's. Used by measure-firmware.sh and
measure-embassy.sh: python3 scripts/text_by_crate.py WITH.elf WITHOUT.elf
"""
import collections, re, subprocess, sys

CRATES = [("encoder", "/encoder/src/"), ("scheduler", "/scheduler/src/"),
          ("embassy hooks", "/embassy/src/"),
          ("rtt transport", "/rtt/src/"), ("rtt protocol", "protocol/src/"), ("wire", "/wire/src/"),
          ("clock", "/cortex-m-clock/src/"), ("firmware", "/firmware-example/src/"),
          ("firmware", "/measure-firmware/src/")]

def by_crate(elf):
    # Each instruction (and literal-pool word) is as long as its bytes: taken as the distance to
    # the next address, the last one before every label (a function, and each `$d`/`$t` mapping
    # symbol around literal pools) went uncounted, 406 of 24800 bytes, the encoder's share 64 low.
    dis = subprocess.run(["llvm-objdump", "-d", elf],
                         capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in dis.splitlines():
        if m := re.match(r"\s+([0-9a-f]+):\s+((?:[0-9a-f]{2} )*[0-9a-f]{2})(?:\s|$)", line):
            sizes[int(m.group(1), 16)] = len(m.group(2).split())
    text = int(next(l.split()[1] for l in subprocess.run(["llvm-size", "-A", elf],
               capture_output=True, text=True, check=True).stdout.splitlines()
               if l.startswith(".text ")))
    if sum(sizes.values()) != text:
        sys.exit(f"{elf}: the instructions read add up to {sum(sizes.values())} bytes, .text is {text}")
    out = subprocess.run(["llvm-symbolizer", "--inlining", "--obj", elf],
                         input="\n".join(hex(a) for a in sizes),
                         capture_output=True, text=True, check=True).stdout
    totals = collections.Counter()
    for a, block in zip(sizes, out.strip("\n").split("\n\n")):
        files = block.splitlines()[1::2]  # function, file:line:column per frame, innermost first
        crate = next((name for f in files for name, path in CRATES if path in f), "other")
        totals[crate] += sizes[a]
    return totals

with_, without = by_crate(sys.argv[1]), by_crate(sys.argv[2])
print(f"{'':14} {'with':>7} {'without':>7} {'diff':>7}")
for crate in dict.fromkeys([name for name, _ in CRATES] + ["other"]):
    if with_[crate] or without[crate]:
        print(f"{crate:14} {with_[crate]:7} {without[crate]:7} {with_[crate] - without[crate]:+7}")
total_with, total_without = sum(with_.values()), sum(without.values())
print(f"{'total (.text)':14} {total_with:7} {total_without:7} {total_with - total_without:+7}")
