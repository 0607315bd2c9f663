//! Without an up channel named `gotrace`, `TraceRing::take` finds none: not a channel whose name
//! only begins so (`gotrace-session`), nor one declared without name and buffer (left for C code
//! to set up, which `rtt_init!` allows).

use gotrace_rtt::TraceRing;
use rtt_target::rtt_init;

#[test]
fn a_control_block_without_the_trace_channel_gives_none() {
    let channels = rtt_init! {
        up: {
            0: { size: 64, name: "defmt" }
            1: { size: 32, name: "gotrace-session" }
            2: {}
        }
    };
    assert!(TraceRing::take(channels.up.1).is_none());
}
