//! `TraceRing::take` gives the trace channel's ring only for the trace channel's own `UpChannel`:
//! given another one, the trace channel's `UpChannel` is still out there (written by rtt-target,
//! or given to `take` a second time), and a ring taken beside it would be a second writer of the
//! same buffer, racing with the first and interleaving their bytes.

mod common;

use core::sync::atomic::Ordering;

use common::up_channels;
use gotrace_rtt::TraceRing;
use rtt_target::{rtt_init, ChannelMode};

#[test]
fn another_channel_than_the_trace_channel_gives_none() {
    let channels = rtt_init! {
        up: {
            0: { size: 64, mode: ChannelMode::NoBlockSkip, name: "defmt" }
            1: { size: 256, mode: ChannelMode::NoBlockSkip, name: "gotrace" }
            2: { size: 32, mode: ChannelMode::BlockIfFull, name: "other" }
        }
    };
    // The same mode as the trace channel, and another.
    assert!(TraceRing::take(channels.up.0).is_none());
    assert!(TraceRing::take(channels.up.2).is_none());
    assert!(TraceRing::take(channels.up.1).is_some());
    // The modes are as they were declared: the check puts back what it changes.
    assert_eq!(rtt_modes(), [0, 0, 2]);
}

/// The up channels' modes, read from the control block as the host reads them.
fn rtt_modes() -> Vec<usize> {
    up_channels()
        .iter()
        .map(|d| d.flags.load(Ordering::Relaxed) & 3)
        .collect()
}
