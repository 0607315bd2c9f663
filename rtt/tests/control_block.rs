//! `TraceRing::take` finds the trace channel in the control block that `rtt_init!` defines (the
//! `_SEGGER_RTT` symbol, defined here on the host as on a device), by its name among the other
//! channels, and the sink writes into that channel's buffer in place, read back here as the host
//! reads it. One `rtt_init!` per program: the control block without a trace channel is
//! `tests/no_trace_channel.rs`.

use core::sync::atomic::Ordering;

use gotrace_encoder::{Offer, Sink};
use gotrace_rtt::{RttSink, TraceRing};
use gotrace_rtt_protocol::{Backpressure, EndRecord, END_MARKER};
use rtt_target::{rtt_init, ChannelMode};

mod common;

use common::{read, up_channels, Descriptor};

fn name(d: &Descriptor) -> String {
    // SAFETY: a channel name is a NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(d.name.cast()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn the_trace_channel_is_found_by_name_and_written_in_place() {
    let channels = rtt_init! {
        up: {
            0: { size: 64, mode: ChannelMode::NoBlockSkip, name: "defmt" }
            1: { size: 32, mode: ChannelMode::BlockIfFull, name: "gotrace-session" }
            2: { size: 256, mode: ChannelMode::BlockIfFull, name: "gotrace" }
        }
        down: {
            0: { size: 16, name: "gotrace-control" }
        }
    };
    let ring = TraceRing::take(channels.up.2).expect("the trace channel is found");
    let watch = ring.watch();
    let mut sink = RttSink::new();
    sink.attach(ring, Backpressure::Lossless);
    sink.begin_trace(b"go 1.22 trace\0\0\0");
    assert_eq!(sink.write_batch(1, &[1, 2, 3], &[4, 5, 6, 7]), Offer::Taken);
    sink.end_trace();

    let up = up_channels();
    let names: Vec<String> = up.iter().map(name).collect();
    assert_eq!(names, ["defmt", "gotrace-session", "gotrace"]);
    assert!(!watch.is_drained());
    let account = EndRecord {
        batches: 1,
        bytes: 7,
        dropped_batches: 0,
        dropped_bytes: 0,
        ..EndRecord::default()
    };
    let expected = [
        &b"go 1.22 trace\0\0\0"[..],
        &[1, 2, 3, 4, 5, 6, 7],
        &[END_MARKER],
        &account.to_bytes(),
    ]
    .concat();
    assert_eq!(read(&up[2]), expected);
    assert!(watch.is_drained());
    // The other channels are not written, nor is the trace channel's mode touched.
    assert!(read(&up[0]).is_empty() && read(&up[1]).is_empty());
    assert_eq!(up[2].flags.load(Ordering::Relaxed) & 3, 2);
}
