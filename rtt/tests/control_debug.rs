//! `ControlChannel`'s `Debug` shows the reader's frame so far (`rtt-target`'s channel has none):
//! what a firmware developer looks at when a command the host sent seems never to arrive.

use gotrace_rtt::ControlChannel;
use rtt_target::rtt_init;

#[test]
fn a_control_channels_debug_shows_its_frame_so_far() {
    let channels = rtt_init! {
        up: {
            0: { size: 64, name: "gotrace" }
        }
        down: {
            0: { size: 64, name: "gotrace-control" }
        }
    };
    let mut control = ControlChannel::new(channels.down.0);
    assert_eq!(control.poll(), None, "the host sent nothing");
    assert_eq!(
        format!("{control:?}"),
        "ControlChannel { frames: CommandFrames { frame: [], overlong: false }, .. }",
        "a channel with no byte of a command yet"
    );
}
