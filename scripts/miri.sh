#!/usr/bin/env bash
# The project's unsafe code run under Miri, which fails on undefined behaviour (an access out of
# bounds, unaligned or through a dead pointer, a data race): the RTT ring writer's raw copies into
# a ring of the host's and the flight recorder's reads back from it (gotrace-rtt), the trace clock's register reads and its chosen counter
# (gotrace-cortex-m-clock), and the decoder's uncounted Arc copies (ready.rs). CI runs it.
#
#     scripts/miri.sh
#
# On a pinned nightly, so that a new nightly cannot turn CI red on its own.
set -euo pipefail
cd "$(dirname "$0")/.."

toolchain=nightly-2026-05-20
rustup toolchain install "$toolchain" --profile minimal --component miri,rust-src
miri() { cargo "+$toolchain" miri test "$@"; }

# The host rings are leaked on purpose (`'static`, as a control block's are on the device). The
# exhaustive ring test (every size, offset and split up to 19 bytes) takes hours under Miri; the
# others write the same rings, whole batches among them (the copy's word and 32-byte paths).
MIRIFLAGS=-Zmiri-ignore-leaks miri -p gotrace-rtt --lib -- --skip every_ring_size_and_offset
# The flight recorder's walk reads the ring back (`Unread::byte`): its directed tests, across the
# ring's wrap among them; the randomized one (300 seeds) would take hours.
MIRIFLAGS=-Zmiri-ignore-leaks miri -p gotrace-rtt --lib --features flight-recorder -- \
  flight_recorder --skip random_batches
# The long division's test is safe arithmetic checked on 50,000 quotients: two minutes under Miri
# for no unsafe code.
miri -p gotrace-cortex-m-clock --lib -- --skip the_long_division_is_u64_division
miri -p gotrace-decoder --lib ready
