//! A trace channel of one byte holds nothing (RTT keeps one byte of a ring free): no batch, no
//! header would ever fit, so `TraceRing::take` refuses it as it does a channel without a buffer,
//! rather than give a sink a ring it can never write.

use gotrace_rtt::TraceRing;
use rtt_target::rtt_init;

#[test]
fn a_trace_channel_of_one_byte_gives_none() {
    let channels = rtt_init! {
        up: {
            0: { size: 1, name: "gotrace" }
        }
    };
    assert!(
        TraceRing::take(channels.up.0).is_none(),
        "a one-byte channel holds no byte: it is no trace channel"
    );
}
