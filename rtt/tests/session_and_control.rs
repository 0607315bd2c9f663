//! The session and control channels in the control block that `rtt_init!` defines:
//! `SessionChannel::take` finds the session channel by its name (and refuses another channel's
//! `UpChannel`), `announce` writes the descriptor's frame into that channel's buffer as the host
//! reads it, and `ControlChannel::poll` reads the commands the host writes into the down channel,
//! whole frames only, however the host's writes split them.

use core::sync::atomic::Ordering;

use gotrace_rtt::{ControlChannel, SessionChannel};
use gotrace_rtt_protocol::{
    decode_frame, encode_frame, Backpressure, ClockSource, Command, SessionDescriptor,
    MAX_MESSAGE_BYTES, PROTOCOL_VERSION,
};
use rtt_target::{rtt_init, ChannelMode};

mod common;

use common::{down_channels, read, up_channels, Descriptor};

/// What the host writes into down channel `d` (the test's writes do not wrap).
fn write(d: &Descriptor, bytes: &[u8]) {
    let at = d.write.load(Ordering::Relaxed);
    assert!(at + bytes.len() < d.size);
    // SAFETY: the host owns the bytes from the write offset to the read offset of a down
    // channel; the device reads none of them until the write offset moves.
    unsafe {
        core::ptr::copy_nonoverlapping(bytes.as_ptr(), d.buffer.cast_mut().add(at), bytes.len())
    };
    d.write.store(at + bytes.len(), Ordering::Release);
}

fn frame(command: &Command) -> Vec<u8> {
    let mut buf = [0; MAX_MESSAGE_BYTES];
    encode_frame(command, &mut buf).unwrap().to_vec()
}

#[test]
fn the_session_and_control_channels_are_found_and_carry_whole_frames() {
    let channels = rtt_init! {
        up: {
            0: { size: 64, mode: ChannelMode::NoBlockSkip, name: "defmt" }
            1: { size: 256, mode: ChannelMode::BlockIfFull, name: "gotrace" }
            2: { size: 128, mode: ChannelMode::NoBlockTrim, name: "gotrace-session" }
        }
        down: {
            0: { size: 64, name: "gotrace-control" }
        }
    };
    // Another channel's UpChannel is refused: the session channel's own would still be out
    // there, a second writer.
    assert!(SessionChannel::take(channels.up.1).is_none());
    let mut session = SessionChannel::take(channels.up.2).expect("the session channel is found");
    let descriptor = SessionDescriptor {
        protocol_version: PROTOCOL_VERSION,
        encoder_version: [0, 1, 0],
        clock: ClockSource::DwtCycles,
        clock_hz: 64_000_000,
        trace_channel_bytes: 256,
        batch_buffer_bytes: 512,
        batch_buffers: 2,
        backpressure: Backpressure::Lossless,
        generation_period_us: 1000,
    };
    session.announce(&descriptor).unwrap();
    let up = up_channels();
    let mut sent = read(&up[2]);
    assert_eq!(sent.last(), Some(&0), "one frame, ending with its zero");
    assert_eq!(decode_frame(&mut sent), Ok(descriptor));
    assert!(read(&up[0]).is_empty() && read(&up[1]).is_empty());
    // The declared modes are as they were.
    let modes: Vec<usize> = up
        .iter()
        .map(|d| d.flags.load(Ordering::Relaxed) & 3)
        .collect();
    assert_eq!(modes, [0, 2, 1]);

    let mut control = ControlChannel::new(channels.down.0);
    let down = &down_channels()[0];
    assert_eq!(control.poll(), None);
    let start = Command::Start {
        backpressure: Backpressure::Lossy,
        generation_period_us: 500,
    };
    // Garbage, then a start command cut in two by the host's writes, then a stop after it in
    // the same write.
    let (start_frame, stop_frame) = (frame(&start), frame(&Command::Stop));
    write(down, &[[3, 3, 0].as_slice(), &start_frame[..2]].concat());
    assert_eq!(control.poll(), None);
    write(down, &[&start_frame[2..], stop_frame.as_slice()].concat());
    assert_eq!(control.poll(), Some(start));
    assert_eq!(control.poll(), Some(Command::Stop));
    assert_eq!(control.poll(), None);
}
