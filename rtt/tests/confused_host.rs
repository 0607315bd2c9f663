//! A read offset outside the trace channel (a confused host, a memory fault) leaves no room: the
//! sink writes nothing until it is put right, rather than compute room from it and write over
//! bytes the host has not read. One `rtt_init!` per program: the flight recorder's is
//! `tests/confused_host_recorder.rs`.

use gotrace_rtt_protocol::Backpressure;
use rtt_target::rtt_init;

mod common;

#[test]
fn a_read_offset_outside_the_channel_leaves_no_room() {
    let channels = rtt_init! {
        up: {
            0: { size: 256, name: "gotrace" }
        }
    };
    let account = common::offer_past_a_wild_read_offset(channels.up.0, Backpressure::Lossy);
    assert_eq!(
        (account.dropped_batches, account.dropped_bytes),
        (1, 7),
        "the batch is dropped as a lossy one is: {account:?}"
    );
}
