//! A read offset outside the trace channel (a confused host, a memory fault) leaves the flight
//! recorder nothing to evict: it walks no bytes from there, and the batch that does not fit is
//! dropped, rather than walk a length computed from the wild offset. One `rtt_init!` per
//! program: the lossy sink's is `tests/confused_host.rs`.
#![cfg(feature = "flight-recorder")]

use gotrace_rtt_protocol::Backpressure;
use rtt_target::rtt_init;

mod common;

#[test]
fn a_read_offset_outside_the_channel_leaves_the_recorder_nothing_to_evict() {
    let channels = rtt_init! {
        up: {
            0: { size: 256, name: "gotrace" }
        }
    };
    let account = common::offer_past_a_wild_read_offset(channels.up.0, Backpressure::Overwrite);
    assert_eq!(
        (account.dropped_batches, account.overwritten_batches),
        (1, 0),
        "the batch is dropped and nothing evicted: {account:?}"
    );
}
