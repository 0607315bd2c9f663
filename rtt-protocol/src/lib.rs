//! The small protocol between gotrace firmware and `gotrace record`, shared by both ends.
//!
//! One RTT control block carries everything: `defmt` logs on up channel 0 (the channel every
//! defmt tool expects), the Go trace bytes on an up channel of their own, a session channel going
//! up (the [`SessionDescriptor`]), and a control channel going down ([`Command`]). Channels are
//! found by name so that a firmware may number them as it likes.
//!
//! Messages on the session and control channels are postcard-encoded and COBS-framed (each
//! frame ends with a zero byte), so a reader can resynchronise after any garbage.
//!
//! The trace channel is the Go 1.22 binary form (header, then batches, each starting with the
//! `EventBatch` byte) with two kinds of records of ours spliced in between whole batches, each
//! introduced by a byte that can never start a batch: [`LossRecord`] after the device had to drop
//! batches (lossy and overwrite modes), and [`EndRecord`] when the device stops tracing. The host removes them
//! before writing the `.trace`. A record is its marker byte, then its fields in order,
//! little-endian, each at its full width: no encoding step on the device (flash is what tracing
//! costs there, and these records are rare), and a record's length is known from its marker.
#![no_std]
#![warn(missing_docs, missing_debug_implementations)]

use serde::{Deserialize, Serialize};

/// Name of the up channel carrying the Go trace.
pub const TRACE_CHANNEL: &str = "gotrace";
/// Name of the up channel carrying the session descriptor.
pub const SESSION_CHANNEL: &str = "gotrace-session";
/// Name of the down channel carrying control commands.
pub const CONTROL_CHANNEL: &str = "gotrace-control";
/// Name of up channel 0, carrying `defmt` frames.
pub const DEFMT_CHANNEL: &str = "defmt";

/// Version of this protocol; the session descriptor states it.
pub const PROTOCOL_VERSION: u16 = 6;

/// First byte of a [`LossRecord`] on the trace channel.
pub const LOSS_MARKER: u8 = 0xFF;
/// First byte of an [`EndRecord`] on the trace channel.
pub const END_MARKER: u8 = 0xFE;

/// What the device does when the trace channel is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Backpressure {
    /// Wait until the host has drained enough: nothing is lost, the firmware slows down.
    Lossless,
    /// Never wait: drop the batch, and with it the rest of its generation, and say so.
    Lossy,
    /// Never wait, and keep the newest whole generations: a batch that does not fit makes room
    /// by overwriting the oldest generations in the channel (a flight recorder). The host does
    /// not read the channel while the device writes it (the device moves its read offset): it
    /// reads the channel once, when the trace has ended or the target has stopped (`gotrace
    /// record --flight-recorder`). What the device overwrote, the end record counts; a
    /// generation larger than the whole channel is dropped as in [`Backpressure::Lossy`].
    Overwrite,
}

/// Where the device's timestamps come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ClockSource {
    /// The DWT cycle counter, extended to 64 bits.
    DwtCycles,
    /// A CMSDK APB timer (the MPS2 boards' TIMER0) free-running down from `u32::MAX`, read
    /// inverted so that it counts up.
    CmsdkApbTimer,
    /// Another free-running timer of the board's (an STM32's TIM2, a Stellaris watchdog under
    /// QEMU), counting at the rate the firmware states.
    BoardTimer,
}

/// Host → device, on the control channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Command {
    /// Start tracing (the device may also start by itself after a grace period).
    Start {
        /// Lossless (`gotrace record`'s default) or lossy (`--lossy`).
        backpressure: Backpressure,
        /// Length of a generation in microseconds of device time; 0 keeps the default.
        generation_period_us: u32,
    },
    /// Stop tracing: the device finishes the current generation and writes an [`EndRecord`].
    Stop,
}

/// Device → host, on the session channel, once tracing starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SessionDescriptor {
    /// [`PROTOCOL_VERSION`] of the firmware's build.
    pub protocol_version: u16,
    /// The encoder's crate version, major/minor/patch.
    pub encoder_version: [u8; 3],
    /// The trace clock's source.
    pub clock: ClockSource,
    /// Ticks per second of the trace clock (the `Frequency` event says the same in the trace).
    pub clock_hz: u64,
    /// Bytes of the trace RTT channel's ring buffer.
    pub trace_channel_bytes: u32,
    /// Bytes of each per-context batch buffer of the encoder.
    pub batch_buffer_bytes: u32,
    /// Number of batch buffers (execution contexts that may write events).
    pub batch_buffers: u32,
    /// The mode the device traces in: the one its sink applies (`gotrace-rtt`'s
    /// `RttSink::backpressure`), the start command's or its own without one, but `Lossy` for
    /// [`Backpressure::Overwrite`] where its sink is built without the flight recorder.
    pub backpressure: Backpressure,
    /// Length of a generation in microseconds of device time; 0: the firmware's default.
    pub generation_period_us: u32,
}

/// Spliced into the trace channel after a loss, before the next batch that made it.
///
/// Generations `first_generation..=last_generation` are incomplete: the device dropped
/// `batches` batches of them (`bytes` bytes). Whatever the host already holds of those
/// generations cannot be validated and is discarded; the trace resumes with the next complete
/// generation as a new segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LossRecord {
    /// The first generation a dropped batch belonged to.
    pub first_generation: u64,
    /// The last generation a dropped batch belonged to.
    pub last_generation: u64,
    /// Batches dropped.
    pub batches: u32,
    /// Their bytes.
    pub bytes: u32,
}

/// Written last on the trace channel: the device's own account of the session. Its counts wrap
/// at 2^32 (a long session produces more than 4 GiB): the host checks that produced less dropped
/// and overwritten is what arrived, modulo 2^32. `Default`: the account of a session that
/// produced nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EndRecord {
    /// Batches the encoder produced, written or not.
    pub batches: u32,
    /// Bytes of those batches (the header not included).
    pub bytes: u32,
    /// Of those batches, the ones dropped (lossy and overwrite modes, or a batch larger than the
    /// channel) and counted by a loss record still in the channel: the loss records the host
    /// reads add up to these.
    pub dropped_batches: u32,
    /// Their bytes.
    pub dropped_bytes: u32,
    /// Of those batches, the ones given up with their whole generations to make room for newer
    /// ones ([`Backpressure::Overwrite`]): written and overwritten since, or dropped and counted
    /// by a loss record overwritten since.
    pub overwritten_batches: u32,
    /// Their bytes.
    pub overwritten_bytes: u32,
    /// Scheduling changes the firmware made that the trace does not show, since the previous end
    /// record (or start-up): an executor's trace hooks that its tracer could not apply
    /// (`gotrace-embassy`'s refusals: a spawn with the task table full, a hook from a context
    /// the firmware does not map), the executor having made the change all the same. The trace
    /// still parses; it lacks them.
    pub untraced: u32,
}

impl LossRecord {
    /// Bytes after the marker.
    pub const LEN: usize = 24;

    /// The record as it follows its marker on the trace channel.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0; Self::LEN];
        out[..8].copy_from_slice(&self.first_generation.to_le_bytes());
        out[8..16].copy_from_slice(&self.last_generation.to_le_bytes());
        out[16..20].copy_from_slice(&self.batches.to_le_bytes());
        out[20..].copy_from_slice(&self.bytes.to_le_bytes());
        out
    }

    /// The record from the bytes after its marker.
    pub fn from_bytes(bytes: &[u8; Self::LEN]) -> Self {
        LossRecord {
            first_generation: u64::from_le_bytes(field(bytes, 0)),
            last_generation: u64::from_le_bytes(field(bytes, 8)),
            batches: u32::from_le_bytes(field(bytes, 16)),
            bytes: u32::from_le_bytes(field(bytes, 20)),
        }
    }
}

impl EndRecord {
    /// Bytes after the marker.
    pub const LEN: usize = 28;

    /// The record as it follows its marker on the trace channel.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0; Self::LEN];
        out[..4].copy_from_slice(&self.batches.to_le_bytes());
        out[4..8].copy_from_slice(&self.bytes.to_le_bytes());
        out[8..12].copy_from_slice(&self.dropped_batches.to_le_bytes());
        out[12..16].copy_from_slice(&self.dropped_bytes.to_le_bytes());
        out[16..20].copy_from_slice(&self.overwritten_batches.to_le_bytes());
        out[20..24].copy_from_slice(&self.overwritten_bytes.to_le_bytes());
        out[24..].copy_from_slice(&self.untraced.to_le_bytes());
        out
    }

    /// The record from the bytes after its marker.
    pub fn from_bytes(bytes: &[u8; Self::LEN]) -> Self {
        EndRecord {
            batches: u32::from_le_bytes(field(bytes, 0)),
            bytes: u32::from_le_bytes(field(bytes, 4)),
            dropped_batches: u32::from_le_bytes(field(bytes, 8)),
            dropped_bytes: u32::from_le_bytes(field(bytes, 12)),
            overwritten_batches: u32::from_le_bytes(field(bytes, 16)),
            overwritten_bytes: u32::from_le_bytes(field(bytes, 20)),
            untraced: u32::from_le_bytes(field(bytes, 24)),
        }
    }
}

/// The `N` bytes of a record's field at offset `at`.
fn field<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    core::array::from_fn(|i| bytes[at + i])
}

/// The largest encoded size of any message above (session and control channels), framing
/// included.
pub const MAX_MESSAGE_BYTES: usize = 64;

/// Encodes a message into one COBS frame (ending with its zero byte).
pub fn encode_frame<'a, T: Serialize>(
    message: &T,
    buf: &'a mut [u8; MAX_MESSAGE_BYTES],
) -> Result<&'a [u8], postcard::Error> {
    postcard::to_slice_cobs(message, buf).map(|frame| &*frame)
}

/// Decodes one COBS frame (with or without its zero byte), in place, as one message whole:
/// postcard ignores what follows a message, so a frame that only begins with one's bytes (a
/// frame cut short and the next one run into it, say) would read as a message mixed of both.
pub fn decode_frame<'de, T: Deserialize<'de>>(frame: &'de mut [u8]) -> Result<T, postcard::Error> {
    let len = frame.len() - usize::from(frame.last() == Some(&0));
    let frame = &mut frame[..len];
    let decoded =
        cobs::decode_in_place(frame).map_err(|_| postcard::Error::DeserializeBadEncoding)?;
    match postcard::take_from_bytes::<T>(&frame[..decoded])? {
        (message, []) => Ok(message),
        _ => Err(postcard::Error::DeserializeBadEncoding),
    }
}

/// The firmware's reader of the control channel: collects its bytes into COBS frames and decodes
/// each [`Command`] a zero byte completes. A frame that is not one command whole (garbage, a
/// command's bytes with more after them, a frame longer than [`MAX_MESSAGE_BYTES`]) is skipped,
/// so the next one is read whatever came before: a firmware reads its RTT down channel byte by
/// byte into [`CommandFrames::push`].
pub struct CommandFrames {
    frame: [u8; MAX_MESSAGE_BYTES],
    len: usize,
}

impl core::fmt::Debug for CommandFrames {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (frame, overlong) = self.so_far();
        f.debug_struct("CommandFrames")
            .field("frame", &frame)
            .field("overlong", &overlong)
            .finish()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for CommandFrames {
    fn format(&self, f: defmt::Formatter<'_>) {
        let (frame, overlong) = self.so_far();
        defmt::write!(
            f,
            "CommandFrames {{ frame: {=[u8]}, overlong: {=bool} }}",
            frame,
            overlong
        );
    }
}

impl CommandFrames {
    /// The frame so far (the rest of the buffer is stale), and whether it is overlong, so being
    /// skipped: what `Debug` and `defmt::Format` show.
    fn so_far(&self) -> (&[u8], bool) {
        (
            &self.frame[..self.len.min(self.frame.len())],
            self.len > self.frame.len(),
        )
    }

    /// A reader with no byte of a frame yet.
    pub const fn new() -> Self {
        CommandFrames {
            frame: [0; MAX_MESSAGE_BYTES],
            len: 0,
        }
    }

    /// Takes the next byte of the channel; returns the command it completes, if any.
    #[must_use = "a command completed by this byte is returned, and lost if ignored"]
    pub fn push(&mut self, byte: u8) -> Option<Command> {
        if byte != 0 {
            if self.len < self.frame.len() {
                self.frame[self.len] = byte;
                self.len += 1;
            } else {
                // Overlong: one more than the frame holds, so that the zero ending it skips it,
                // whatever the part kept in the buffer decodes to.
                self.len = self.frame.len() + 1;
            }
            return None;
        }
        let len = core::mem::take(&mut self.len);
        let frame = self.frame.get_mut(..len)?;
        // The frame must be one command whole: postcard ignores what follows a message, so a
        // frame that only begins with a command's bytes (a frame cut short and the next one run
        // together, say) would read as that command.
        let decoded = cobs::decode_in_place(frame).ok()?;
        let (command, rest) = postcard::take_from_bytes::<Command>(frame.get(..decoded)?).ok()?;
        rest.is_empty().then_some(command)
    }
}

impl Default for CommandFrames {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;
    use std::vec::Vec;

    use super::*;

    const START: Command = Command::Start {
        backpressure: Backpressure::Lossy,
        generation_period_us: 500,
    };

    /// `command`'s frame, as the host sends it.
    fn frame(command: &Command) -> Vec<u8> {
        let mut buf = [0; MAX_MESSAGE_BYTES];
        encode_frame(command, &mut buf).unwrap().to_vec()
    }

    #[test]
    fn a_readers_debug_shows_the_frame_so_far_and_whether_it_is_skipped() {
        let mut frames = CommandFrames::new();
        for byte in [1, 2] {
            assert_eq!(frames.push(byte), None);
        }
        assert_eq!(
            format!("{frames:?}"),
            "CommandFrames { frame: [1, 2], overlong: false }"
        );
        for _ in 0..MAX_MESSAGE_BYTES {
            assert_eq!(frames.push(3), None);
        }
        let shown = format!("{frames:?}");
        assert!(shown.ends_with(", 3, 3], overlong: true }"), "{shown}");
        assert_eq!(frames.push(0), None, "the overlong frame is skipped");
        assert_eq!(
            format!("{frames:?}"),
            "CommandFrames { frame: [], overlong: false }"
        );
    }

    #[test]
    fn a_reader_holding_a_full_frame_does_not_show_it_as_overlong() {
        // A frame of exactly MAX_MESSAGE_BYTES bytes is not yet skipped (its zero may still come
        // and complete a command): only one byte more makes it overlong.
        let mut frames = CommandFrames::new();
        for _ in 0..MAX_MESSAGE_BYTES {
            assert_eq!(frames.push(3), None);
        }
        let shown = format!("{frames:?}");
        assert!(
            shown.ends_with(", 3, 3], overlong: false }"),
            "a full frame is not overlong: {shown}"
        );
        assert_eq!(frames.push(3), None);
        let shown = format!("{frames:?}");
        assert!(
            shown.ends_with(", 3, 3], overlong: true }"),
            "one byte more than a frame holds is overlong: {shown}"
        );
    }

    #[test]
    fn a_frame_decodes_with_or_without_its_zero_byte() {
        // The host's reader splits the session channel at zero bytes and decodes each frame
        // without its zero; the rtt crate's tests decode frames with it. Both must read the same
        // message.
        let with_zero = frame(&START);
        assert_eq!(with_zero.last(), Some(&0));
        assert_eq!(
            decode_frame(&mut with_zero.clone()),
            Ok(START),
            "a frame ending with its zero byte"
        );
        let without_zero = &with_zero[..with_zero.len() - 1];
        assert_eq!(
            decode_frame(&mut without_zero.to_vec()),
            Ok(START),
            "a frame without its zero byte"
        );
    }

    #[test]
    fn commands_are_read_from_their_frames_and_garbage_is_skipped() {
        let start = START;
        let (start_frame, stop_frame) = (frame(&start), frame(&Command::Stop));
        let mut frames = CommandFrames::new();
        let mut read = |bytes: &[u8]| -> [Option<Command>; 2] {
            let mut out = [None, None];
            let mut n = 0;
            for &byte in bytes {
                if let Some(command) = frames.push(byte) {
                    out[n] = Some(command);
                    n += 1;
                }
            }
            out
        };
        // Two commands in one read, and one across two reads.
        let both = [start_frame.as_slice(), stop_frame.as_slice()].concat();
        assert_eq!(read(&both), [Some(start), Some(Command::Stop)]);
        let (head, tail) = start_frame.split_at(2);
        assert_eq!(read(head), [None, None]);
        assert_eq!(read(tail), [Some(start), None]);
        // Garbage, an empty frame and a run longer than any frame are skipped, and the command
        // after them read.
        let garbage = [[7, 7, 0, 0].as_slice(), &[9; 3 * MAX_MESSAGE_BYTES], &[0]].concat();
        assert_eq!(read(&garbage), [None, None]);
        assert_eq!(read(&stop_frame), [Some(Command::Stop), None]);
    }

    #[test]
    fn an_overlong_frame_is_skipped_even_when_its_first_bytes_are_a_command() {
        // A Stop's frame without its closing zero, then a run of COBS code bytes 1 (each a zero
        // byte of the message): cut to MAX_MESSAGE_BYTES it is a valid frame of a Stop followed
        // by zeros, which postcard decodes (it ignores what follows a message), but the frame
        // that came is longer than any command.
        let stop_frame = frame(&Command::Stop);
        let (zero, stop) = stop_frame.split_last().unwrap();
        assert_eq!(*zero, 0);
        let overlong = [stop, &[1; 2 * MAX_MESSAGE_BYTES], &[0]].concat();
        let mut frames = CommandFrames::new();
        assert_eq!(overlong.iter().find_map(|&b| frames.push(b)), None);
        // The same within MAX_MESSAGE_BYTES: a command's bytes and more, not a command.
        let full = [stop, &[1; MAX_MESSAGE_BYTES - 2], &[0]].concat();
        assert_eq!(full.len(), MAX_MESSAGE_BYTES + 1);
        assert_eq!(full.iter().find_map(|&b| frames.push(b)), None);
        assert_eq!(
            stop_frame.iter().find_map(|&b| frames.push(b)),
            Some(Command::Stop)
        );
    }

    #[test]
    fn a_frame_cut_short_and_run_into_the_next_is_no_command() {
        // A Stop's frame without its zero (a write that had room for part of it, the rest never
        // sent), then a Start's frame: one frame, which decodes to a Stop followed by the bytes
        // of the Start. It was read as a Stop (postcard ignores what follows a message), which
        // the host never sent whole, in place of the Start it did.
        let (start_frame, stop_frame) = (frame(&START), frame(&Command::Stop));
        let run_together = [&stop_frame[..stop_frame.len() - 1], &start_frame].concat();
        let mut frames = CommandFrames::new();
        assert_eq!(run_together.iter().find_map(|&b| frames.push(b)), None);
        assert_eq!(
            start_frame.iter().find_map(|&b| frames.push(b)),
            Some(START)
        );
    }

    #[test]
    fn the_largest_session_descriptor_fits_a_frame() {
        // Every varint at its longest: the frame gotrace-rtt's `SessionChannel::announce` and
        // the host's reader (frames of at most MAX_MESSAGE_BYTES) must both take.
        let largest = SessionDescriptor {
            protocol_version: u16::MAX,
            encoder_version: [u8::MAX; 3],
            clock: ClockSource::CmsdkApbTimer,
            clock_hz: u64::MAX,
            trace_channel_bytes: u32::MAX,
            batch_buffer_bytes: u32::MAX,
            batch_buffers: u32::MAX,
            backpressure: Backpressure::Lossy,
            generation_period_us: u32::MAX,
        };
        let mut buf = [0; MAX_MESSAGE_BYTES];
        let frame = encode_frame(&largest, &mut buf).unwrap();
        assert_eq!(frame.len(), 40);
        assert_eq!(decode_frame(&mut frame.to_vec()), Ok(largest));
    }

    #[test]
    fn records_are_their_fields_little_endian_and_read_back() {
        let loss = LossRecord {
            first_generation: 0x0102_0304_0506_0708,
            last_generation: u64::MAX,
            batches: 0x0a0b_0c0d,
            bytes: 1,
        };
        let bytes = loss.to_bytes();
        assert_eq!(
            bytes,
            [
                8, 7, 6, 5, 4, 3, 2, 1, 255, 255, 255, 255, 255, 255, 255, 255, 0x0d, 0x0c, 0x0b,
                0x0a, 1, 0, 0, 0
            ]
        );
        assert_eq!(LossRecord::from_bytes(&bytes), loss);
        let end = EndRecord {
            batches: 127,
            bytes: 0x100,
            dropped_batches: 1 << 21,
            dropped_bytes: u32::MAX,
            overwritten_batches: 3,
            overwritten_bytes: 0x0102_0304,
            untraced: 0x0506_0708,
        };
        let bytes = end.to_bytes();
        assert_eq!(
            bytes,
            [
                127, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x20, 0, 255, 255, 255, 255, 3, 0, 0, 0, 4, 3, 2,
                1, 8, 7, 6, 5
            ]
        );
        assert_eq!(EndRecord::from_bytes(&bytes), end);
    }
}
