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
//! batches (lossy mode), and [`EndRecord`] when the device stops tracing. The host removes them
//! before writing the `.trace`.
#![no_std]

use gotrace_wire::varint;
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
pub const PROTOCOL_VERSION: u16 = 2;

/// First byte of a [`LossRecord`] on the trace channel.
pub const LOSS_MARKER: u8 = 0xFF;
/// First byte of an [`EndRecord`] on the trace channel.
pub const END_MARKER: u8 = 0xFE;

/// What the device does when the trace channel is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Backpressure {
    /// Wait until the host has drained enough: nothing is lost, the firmware slows down.
    Lossless,
    /// Never wait: drop the batch, and with it the rest of its generation, and say so.
    Lossy,
}

/// Where the device's timestamps come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClockSource {
    /// The DWT cycle counter, extended to 64 bits.
    DwtCycles,
    /// A CMSDK APB timer (the MPS2 boards' TIMER0) free-running down from `u32::MAX`, read
    /// inverted so that it counts up.
    CmsdkApbTimer,
}

/// Host → device, on the control channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Start tracing (the device may also start by itself after a grace period).
    Start {
        backpressure: Backpressure,
        /// Length of a generation in microseconds of device time; 0 keeps the default.
        generation_period_us: u32,
    },
    /// Stop tracing: the device finishes the current generation and writes an [`EndRecord`].
    Stop,
}

/// Device → host, on the session channel, once tracing starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDescriptor {
    pub protocol_version: u16,
    /// The encoder's crate version, major/minor/patch.
    pub encoder_version: [u8; 3],
    pub clock: ClockSource,
    /// Ticks per second of the trace clock (the `Frequency` event says the same in the trace).
    pub clock_hz: u64,
    /// Bytes of the trace RTT channel's ring buffer.
    pub trace_channel_bytes: u32,
    /// Bytes of each per-context batch buffer of the encoder.
    pub batch_buffer_bytes: u32,
    /// Number of batch buffers (execution contexts that may write events).
    pub batch_buffers: u32,
    pub backpressure: Backpressure,
    pub generation_period_us: u32,
}

/// Spliced into the trace channel after a loss, before the next batch that made it.
///
/// Generations `first_generation..=last_generation` are incomplete: the device dropped
/// `batches` batches of them (`bytes` bytes). Whatever the host already holds of those
/// generations cannot be validated and is discarded; the trace resumes with the next complete
/// generation as a new segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LossRecord {
    pub first_generation: u64,
    pub last_generation: u64,
    pub batches: u32,
    pub bytes: u32,
}

/// Written last on the trace channel: the device's own account of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndRecord {
    /// Batches the encoder produced, written or not.
    pub batches: u32,
    /// Bytes of those batches (the header not included).
    pub bytes: u32,
    pub dropped_batches: u32,
    pub dropped_bytes: u32,
}

impl LossRecord {
    /// The fields in their encoded order (see [`encode_record_fields`]).
    pub fn fields(&self) -> [u64; RECORD_FIELDS] {
        [
            self.first_generation,
            self.last_generation,
            self.batches.into(),
            self.bytes.into(),
        ]
    }
}

impl EndRecord {
    /// The fields in their encoded order (see [`encode_record_fields`]).
    pub fn fields(&self) -> [u64; RECORD_FIELDS] {
        [
            self.batches.into(),
            self.bytes.into(),
            self.dropped_batches.into(),
            self.dropped_bytes.into(),
        ]
    }
}

/// The largest encoded size of any record or message above, framing included.
pub const MAX_MESSAGE_BYTES: usize = 64;

/// Fields of each record on the trace channel (all unsigned integers).
pub const RECORD_FIELDS: usize = 4;
/// The longest record on the trace channel: its marker, then its fields as varints.
pub const MAX_RECORD_BYTES: usize = 1 + RECORD_FIELDS * varint::MAX_LEN;

/// Encodes a record from its [`fields`](LossRecord::fields) behind `marker`: the same bytes as
/// [`encode_record`], since postcard writes `u32` and `u64` as unsigned LEB128 varints, but
/// without serde's code (the device writes records with this).
pub fn encode_record_fields(
    marker: u8,
    fields: [u64; RECORD_FIELDS],
    buf: &mut [u8; MAX_RECORD_BYTES],
) -> &[u8] {
    buf[0] = marker;
    // The buffer has room for every field at its longest: nothing is cut.
    let len = fields
        .into_iter()
        .fold(1, |len, field| varint::put(buf, len, field));
    &buf[..len]
}

/// Encodes `record` behind `marker` into `buf`; returns the bytes to write.
pub fn encode_record<'a, T: Serialize>(
    marker: u8,
    record: &T,
    buf: &'a mut [u8; MAX_MESSAGE_BYTES],
) -> Result<&'a [u8], postcard::Error> {
    buf[0] = marker;
    let len = postcard::to_slice(record, &mut buf[1..])?.len();
    Ok(&buf[..1 + len])
}

/// Decodes a record that follows its marker byte; returns it and the bytes after it.
/// `Err(DeserializeUnexpectedEnd)` means more bytes are needed.
pub fn decode_record<'de, T: Deserialize<'de>>(
    bytes: &'de [u8],
) -> Result<(T, &'de [u8]), postcard::Error> {
    postcard::take_from_bytes(bytes)
}

/// Encodes a message into one COBS frame (ending with its zero byte).
pub fn encode_frame<'a, T: Serialize>(
    message: &T,
    buf: &'a mut [u8; MAX_MESSAGE_BYTES],
) -> Result<&'a [u8], postcard::Error> {
    postcard::to_slice_cobs(message, buf).map(|frame| &*frame)
}

/// Decodes one COBS frame (with or without its zero byte), in place.
pub fn decode_frame<'de, T: Deserialize<'de>>(frame: &'de mut [u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes_cobs(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_from_fields_are_postcard_records() {
        let loss = LossRecord {
            first_generation: u64::MAX,
            last_generation: 300,
            batches: 0,
            bytes: u32::MAX,
        };
        let end = EndRecord {
            batches: 127,
            bytes: 128,
            dropped_batches: 1 << 21,
            dropped_bytes: 5,
        };
        let (mut fields_buf, mut postcard_buf) = ([0; MAX_RECORD_BYTES], [0; MAX_MESSAGE_BYTES]);
        assert_eq!(
            encode_record_fields(LOSS_MARKER, loss.fields(), &mut fields_buf),
            encode_record(LOSS_MARKER, &loss, &mut postcard_buf).unwrap()
        );
        assert_eq!(
            encode_record_fields(END_MARKER, end.fields(), &mut fields_buf),
            encode_record(END_MARKER, &end, &mut postcard_buf).unwrap()
        );
    }
}
