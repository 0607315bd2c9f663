//! The encoder's sink: the trace RTT up channel, lossless or lossy.
//!
//! Lossless: the channel blocks while full, so nothing is lost and the firmware slows down.
//! Lossy: a batch that does not fit whole is dropped, and with it the rest of its generation
//! (a generation missing a batch would not parse). Before the next batch that does make it, a
//! `LossRecord` names the broken generations and counts what was dropped, and the `EndRecord`
//! closing the trace gives the device's totals, so the host can account for every byte.

use gotrace_encoder::Sink;
use gotrace_rtt_protocol::{
    encode_record, Backpressure, EndRecord, LossRecord, END_MARKER, LOSS_MARKER, MAX_MESSAGE_BYTES,
};
use gotrace_wire::varint;
use rtt_target::{ChannelMode, UpChannel};

/// Room for one batch with its header, so a lossy write is all or nothing.
const SCRATCH: usize = crate::BATCH_BYTES + 32;

pub struct RttSink {
    channel: Option<UpChannel>,
    backpressure: Backpressure,
    pending_loss: Option<LossRecord>,
    account: EndRecord,
    scratch: [u8; SCRATCH],
}

impl RttSink {
    pub const fn new() -> Self {
        RttSink {
            channel: None,
            backpressure: Backpressure::Lossless,
            pending_loss: None,
            account: EndRecord {
                batches: 0,
                bytes: 0,
                dropped_batches: 0,
                dropped_bytes: 0,
            },
            scratch: [0; SCRATCH],
        }
    }

    pub fn attach(&mut self, channel: UpChannel, backpressure: Backpressure) {
        self.channel = Some(channel);
        self.backpressure = backpressure;
    }

    /// Whether the host has read everything written so far.
    pub fn is_drained(&self) -> bool {
        self.channel.as_ref().is_none_or(|c| c.is_empty())
    }

    fn write_whole(&mut self, bytes: &[u8]) -> bool {
        write_whole(&mut self.channel, self.backpressure, bytes)
    }

    /// Writes a record of ours, blocking: used only where the trace ends.
    fn write_blocking(&mut self, bytes: &[u8]) {
        if let Some(channel) = self.channel.as_mut() {
            channel.set_mode(ChannelMode::BlockIfFull);
            channel.write(bytes);
        }
    }

    fn flush_loss(&mut self, blocking: bool) -> bool {
        let Some(loss) = self.pending_loss else {
            return true;
        };
        let mut buf = [0u8; MAX_MESSAGE_BYTES];
        let Ok(record) = encode_record(LOSS_MARKER, &loss, &mut buf) else {
            return false;
        };
        let written = if blocking {
            self.write_blocking(record);
            true
        } else {
            self.write_whole(record)
        };
        if written {
            self.pending_loss = None;
        }
        written
    }

    fn drop_batch(&mut self, generation: u64, len: u32) {
        self.account.dropped_batches += 1;
        self.account.dropped_bytes += len;
        let loss = self.pending_loss.get_or_insert(LossRecord {
            first_generation: generation,
            last_generation: generation,
            batches: 0,
            bytes: 0,
        });
        loss.last_generation = loss.last_generation.max(generation);
        loss.batches += 1;
        loss.bytes += len;
    }
}

impl Sink for RttSink {
    fn begin_trace(&mut self, header: &[u8]) {
        self.write_blocking(header);
    }

    fn write_batch(&mut self, header: &[u8], payload: &[u8]) {
        let len = header.len() + payload.len();
        self.account.batches += 1;
        self.account.bytes += len as u32;
        // The generation is the first field after the batch's type byte.
        let generation = varint::decode(&header[1..]).map_or(0, |(g, _)| g);
        if let Some(loss) = self.pending_loss {
            // The rest of a broken generation goes too; a later one may resume after the record.
            if generation <= loss.last_generation || !self.flush_loss(false) {
                self.drop_batch(generation, len as u32);
                return;
            }
        }
        if self.backpressure == Backpressure::Lossless {
            self.write_blocking(header);
            self.write_blocking(payload);
            return;
        }
        if len > SCRATCH {
            self.drop_batch(generation, len as u32);
            return;
        }
        self.scratch[..header.len()].copy_from_slice(header);
        self.scratch[header.len()..len].copy_from_slice(payload);
        if !write_whole(&mut self.channel, self.backpressure, &self.scratch[..len]) {
            self.drop_batch(generation, len as u32);
        }
    }

    fn end_trace(&mut self) {
        self.flush_loss(true);
        let mut buf = [0u8; MAX_MESSAGE_BYTES];
        let account = self.account;
        if let Ok(record) = encode_record(END_MARKER, &account, &mut buf) {
            self.write_blocking(record);
        }
    }
}

/// Writes `bytes` whole or not at all; returns whether it did.
fn write_whole(channel: &mut Option<UpChannel>, backpressure: Backpressure, bytes: &[u8]) -> bool {
    let Some(channel) = channel.as_mut() else {
        return false;
    };
    match backpressure {
        Backpressure::Lossless => {
            channel.set_mode(ChannelMode::BlockIfFull);
            channel.write(bytes);
            true
        }
        Backpressure::Lossy => {
            channel.set_mode(ChannelMode::NoBlockSkip);
            channel.write(bytes) == bytes.len()
        }
    }
}
