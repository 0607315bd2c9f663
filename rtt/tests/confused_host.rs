//! A read offset outside the trace channel (a confused host, a memory fault) leaves no room: the
//! sink writes nothing until it is put right, rather than compute room from it and write over
//! bytes the host has not read. One `rtt_init!` per program: the flight recorder's is
//! `tests/confused_host_recorder.rs`.

use core::sync::atomic::Ordering;

use gotrace_encoder::{Offer, Sink};
use gotrace_rtt::{RttSink, TraceRing};
use gotrace_rtt_protocol::Backpressure;
use rtt_target::rtt_init;

mod common;

use common::up_channels;

#[test]
fn a_read_offset_outside_the_channel_leaves_no_room() {
    let channels = rtt_init! {
        up: {
            0: { size: 256, name: "gotrace" }
        }
    };
    let ring = TraceRing::take(channels.up.0).expect("the trace channel is found");
    let mut sink = RttSink::new();
    sink.attach(ring, Backpressure::Lossy);
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
        (account.dropped_batches, account.dropped_bytes),
        (1, 7),
        "the batch is dropped as a lossy one is: {account:?}"
    );
}
