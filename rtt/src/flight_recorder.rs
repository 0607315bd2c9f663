//! The flight recorder's room (`Backpressure::Overwrite`, feature `flight-recorder`): the oldest
//! generation in the trace channel given up, whole, for a newer batch.
//!
//! No table in RAM says where a generation ends: the channel itself does. From the read offset it
//! holds whole items only, each told by its first byte: the trace's file header, a loss record, an
//! end record, or a batch, whose header gives its generation and its length. The walk reads them
//! back until the first batch of a newer generation, so it ends at the write offset at the latest.

use gotrace_rtt_protocol::{EndRecord, LossRecord, END_MARKER, LOSS_MARKER};
use gotrace_wire::{varint, EventType, HEADER_LEN};

use crate::ring::{TraceRing, Unread};

/// The first byte of the trace's file header (`go 1.22 trace`).
const HEADER_START: u8 = b'g';
/// The first byte of a batch.
const BATCH_START: u8 = EventType::EVENT_BATCH.0;

/// What [`evict_oldest`] gave up: the batches, and their bytes as the account counts them
/// (header and payload); the trace header and records it took with them are not batches, but
/// the drops its loss records counted are given up with them: the host, which checks the loss
/// records it reads against the end record's drops, will never read those.
#[derive(Default)]
pub(crate) struct Evicted {
    pub(crate) batches: u32,
    pub(crate) bytes: u32,
    pub(crate) dropped_batches: u32,
    pub(crate) dropped_bytes: u32,
}

/// Moves the channel's read offset past its oldest generation if that is older than `newer`
/// (never `newer`'s own, nor a later one), with the header and records before its next
/// generation's first batch. `None` if it gave up nothing: nothing older is left, or the channel
/// holds a byte that starts no item (only a memory fault leaves one), where it stops rather than
/// guess.
pub(crate) fn evict_oldest(ring: &mut TraceRing, newer: u64) -> Option<Evicted> {
    let mut unread = ring.unread();
    let unread_bytes = unread.left();
    // Where the first item kept starts.
    let mut kept = unread;
    let mut oldest = None;
    let mut evicted = Evicted::default();
    while let Some(first) = unread.byte() {
        match first {
            HEADER_START => unread.skip(HEADER_LEN - 1)?,
            LOSS_MARKER => {
                let mut fields = [0; LossRecord::LEN];
                for field in &mut fields {
                    *field = unread.byte()?;
                }
                let loss = LossRecord::from_bytes(&fields);
                evicted.dropped_batches = evicted.dropped_batches.wrapping_add(loss.batches);
                evicted.dropped_bytes = evicted.dropped_bytes.wrapping_add(loss.bytes);
            }
            END_MARKER => unread.skip(EndRecord::LEN)?,
            BATCH_START => {
                let generation = uvarint(&mut unread)?;
                if generation >= newer || *oldest.get_or_insert(generation) != generation {
                    break;
                }
                let _m = uvarint(&mut unread)?;
                let _time = uvarint(&mut unread)?;
                let size = uvarint(&mut unread)?;
                unread.skip(usize::try_from(size).ok()?)?;
                evicted.batches += 1;
                // Less than the ring's size, which a `u32` holds on the device.
                evicted.bytes += (kept.left() - unread.left()) as u32;
            }
            _ => return None,
        }
        kept = unread;
    }
    if kept.left() == unread_bytes {
        return None;
    }
    ring.discard_before(kept);
    Some(evicted)
}

/// Reads one uvarint of a batch header; `None` at the write offset or past ten bytes.
fn uvarint(unread: &mut Unread) -> Option<u64> {
    let mut value = 0;
    for i in 0..varint::MAX_LEN {
        let byte = unread.byte()?;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}
