//! The two small channels beside the trace: the host's commands coming down
//! ([`ControlChannel`], `gotrace-control`) and the session descriptor going up
//! ([`SessionChannel`], `gotrace-session`).
//!
//! Both carry postcard messages in COBS frames (`gotrace_rtt_protocol`). The descriptor is written
//! by the trace ring's own writer, one frame whole or not at all, without waiting: `rtt-target`'s
//! `UpChannel::write` cuts a frame in `NoBlockTrim` mode, waits forever without a host in
//! `BlockIfFull` mode when the channel is full, and in `NoBlockSkip` mode reports the bytes it
//! copied even when it then dropped them all, so its count cannot say whether the host will get
//! the frame.

use gotrace_rtt_protocol::{
    encode_frame, Command, CommandFrames, SessionDescriptor, MAX_MESSAGE_BYTES, SESSION_CHANNEL,
};
use rtt_target::{DownChannel, UpChannel};

use crate::ring::{TraceRing, Write};

/// The host's commands ([`Command::Start`], [`Command::Stop`]), read from the down channel named
/// [`CONTROL_CHANNEL`](gotrace_rtt_protocol::CONTROL_CHANNEL) (`"gotrace-control"`), which
/// `gotrace record` writes them to.
pub struct ControlChannel {
    channel: DownChannel,
    frames: CommandFrames,
}

impl core::fmt::Debug for ControlChannel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // `rtt-target`'s channel has no `Debug`; the bytes of a command not complete yet do.
        f.debug_struct("ControlChannel")
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for ControlChannel {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "ControlChannel {{ frames: {}, .. }}", self.frames);
    }
}

impl ControlChannel {
    /// Reads the host's commands from `channel`, which must be the down channel `rtt_init!`
    /// declared with the name `"gotrace-control"` (`gotrace record` finds it by that name; given
    /// another, no command ever arrives).
    pub fn new(channel: DownChannel) -> Self {
        ControlChannel {
            channel,
            frames: CommandFrames::new(),
        }
    }

    /// The next command the host sent, if a whole one has arrived since the last call; never
    /// waits. Call it in the firmware's main loop (and while waiting for `Start`): bytes of a
    /// command not yet complete are kept for the next call, and garbage between frames is
    /// skipped. A second command that arrived in the same poll stays in the channel for the next
    /// call.
    #[must_use = "the command is taken from the channel: ignored, it is lost"]
    pub fn poll(&mut self) -> Option<Command> {
        let mut byte = [0u8; 1];
        while self.channel.read(&mut byte) == 1 {
            if let Some(command) = self.frames.push(byte[0]) {
                return Some(command);
            }
        }
        None
    }
}

/// Why [`SessionChannel::announce`] did not send the descriptor. Nothing of it was written
/// either way: the host never sees part of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AnnounceError {
    /// The channel is smaller than the descriptor's frame (and one byte RTT keeps free): it can
    /// never be sent. Declare the session channel with at least 65 bytes
    /// (`gotrace_rtt_protocol::MAX_MESSAGE_BYTES` + 1).
    #[error("the session channel is too small for the session descriptor's frame")]
    ChannelTooSmall,
    /// The channel has no room for the frame now: the host has not read what was announced
    /// before. Announce again later, once the host has read the channel, or go on without.
    #[error("the session channel is full: the host has not read it")]
    Full,
}

/// The up channel named [`SESSION_CHANNEL`] (`"gotrace-session"`), on which the firmware tells
/// `gotrace record` how it traces: a [`SessionDescriptor`] per tracing session, which the host
/// shows and checks against what its start command asked.
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SessionChannel {
    /// The session channel's ring, written by the writer the trace channel's ring has.
    ring: TraceRing,
}

impl SessionChannel {
    /// Takes over the session channel: the up channel `rtt_init!` declared with the name
    /// `"gotrace-session"`, consumed so that `rtt-target` never writes it. Its declared mode
    /// does not matter: [`announce`](Self::announce) never waits. `None` if no initialised up
    /// channel has that name, or if `channel` is another one.
    #[must_use = "the channel is consumed: a ring dropped unused is a channel lost"]
    pub fn take(channel: UpChannel) -> Option<Self> {
        TraceRing::take_named(channel, SESSION_CHANNEL).map(|ring| SessionChannel { ring })
    }

    /// Sends `descriptor` to the host: its whole frame is in the channel when this returns
    /// `Ok`, and none of it otherwise (the error says why). Never waits, so it never stops a
    /// firmware that no host reads; with a host reading, the channel is empty again within a
    /// poll. Call it once tracing is set up (after the start command, or after giving up on one),
    /// with what the firmware actually does.
    pub fn announce(&mut self, descriptor: &SessionDescriptor) -> Result<(), AnnounceError> {
        let mut buf = [0u8; MAX_MESSAGE_BYTES];
        // Fails only for a frame longer than the buffer, which no descriptor is: the largest
        // takes 40 bytes of the 64 (the protocol crate's test
        // `the_largest_session_descriptor_fits_a_frame`). Such a frame would be too large for
        // any session channel, the host reading frames of at most 64 bytes: reported so rather
        // than a panic, whose message would cost flash.
        let frame =
            encode_frame(descriptor, &mut buf).map_err(|_| AnnounceError::ChannelTooSmall)?;
        if self.ring.never_fits(frame.len()) {
            return Err(AnnounceError::ChannelTooSmall);
        }
        if self.ring.write(frame, &[], 0) == Write::Done {
            Ok(())
        } else {
            Err(AnnounceError::Full)
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use gotrace_rtt_protocol::{decode_frame, Backpressure, ClockSource, PROTOCOL_VERSION};

    use super::*;
    use crate::ring::host;

    fn descriptor(clock_hz: u64, generation_period_us: u32) -> SessionDescriptor {
        SessionDescriptor {
            protocol_version: PROTOCOL_VERSION,
            encoder_version: [0, 1, 0],
            clock: ClockSource::CmsdkApbTimer,
            clock_hz,
            trace_channel_bytes: 8192,
            batch_buffer_bytes: 512,
            batch_buffers: 3,
            backpressure: Backpressure::Lossy,
            generation_period_us,
        }
    }

    #[test]
    fn a_descriptor_is_announced_whole_or_not_at_all_and_says_why() {
        // A small descriptor and the largest (every varint at its longest), in every channel
        // size around their frames, announced twice without the host reading in between.
        for descriptor in [descriptor(25_000_000, 0), descriptor(u64::MAX, u32::MAX)] {
            let mut buf = [0; MAX_MESSAGE_BYTES];
            let frame = encode_frame(&descriptor, &mut buf).unwrap().to_vec();
            for size in 2..=2 * frame.len() + 2 {
                let (ring, host) = host::ring(size);
                let mut session = SessionChannel { ring };
                // One byte of the ring always stays free.
                let fits = |unread: usize| unread + frame.len() < size;
                let first = session.announce(&descriptor);
                if !fits(0) {
                    assert_eq!(first, Err(AnnounceError::ChannelTooSmall), "size {size}");
                    assert!(host.read().is_empty());
                    continue;
                }
                assert_eq!(first, Ok(()), "size {size}");
                let second = session.announce(&descriptor);
                let expected_second = if fits(frame.len()) {
                    Ok(())
                } else {
                    Err(AnnounceError::Full)
                };
                assert_eq!(second, expected_second, "size {size}");
                let mut read = host.read();
                let frames = if second.is_ok() { 2 } else { 1 };
                assert_eq!(read, frame.repeat(frames), "size {size}");
                let one = &mut read[..frame.len()];
                assert_eq!(decode_frame::<SessionDescriptor>(one), Ok(descriptor));
                // Read, the channel takes the next one.
                assert_eq!(session.announce(&descriptor), Ok(()));
                assert_eq!(host.read(), frame);
            }
        }
    }
}
