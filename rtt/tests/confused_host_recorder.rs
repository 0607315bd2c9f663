//! A read offset outside the trace channel (a confused host, a memory fault) leaves the flight
//! recorder nothing to evict: it walks no bytes from there, and the batch that does not fit is
//! dropped, rather than walk a length computed from the wild offset. One `rtt_init!` per
//! program: the lossy sink's is `tests/confused_host.rs`.
#![cfg(feature = "flight-recorder")]

use core::sync::atomic::Ordering;

use gotrace_encoder::{Offer, Sink};
use gotrace_rtt::{RttSink, TraceRing};
use gotrace_rtt_protocol::Backpressure;
use rtt_target::rtt_init;

mod common;

use common::up_channels;

#[test]
fn a_read_offset_outside_the_channel_leaves_the_recorder_nothing_to_evict() {
    let channels = rtt_init! {
        up: {
            0: { size: 256, name: "gotrace" }
        }
    };
    let ring = TraceRing::take(channels.up.0).expect("the trace channel is found");
    let mut sink = RttSink::new();
    sink.attach(ring, Backpressure::Overwrite);
    sink.begin_trace(b"go 1.22 trace\0\0\0");
    let trace = &up_channels()[0];
    let write = trace.write.load(Ordering::Relaxed);
    assert_eq!(write, 16, "the header is written");
    trace.read.store(trace.size + 200, Ordering::Release);
    assert_eq!(sink.write_batch(1, &[1, 2, 3], &[4, 5, 6, 7]), Offer::Taken);
    assert_eq!(
        trace.write.load(Ordering::Relaxed),
        write,
        "nothing is written while the read offset is outside the channel"
    );
    let account = sink.account();
    assert_eq!(
        (account.dropped_batches, account.overwritten_batches),
        (1, 0),
        "the batch is dropped and nothing evicted: {account:?}"
    );
}
