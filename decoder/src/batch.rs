//! Batches: the unit in which a trace is written. Each starts with an `EventBatch` header
//! (generation, thread, base timestamp, payload size) and carries at most 64 KiB of events of one
//! thread, or one of the per-generation tables (strings, stacks, CPU samples, frequency).
//!
//! Only the header is decoded here; the payload is kept as bytes and decoded by whoever consumes
//! the batch, as Go's reader does.

use std::io::Read;
use std::ops::Range;

use gotrace_wire::{varint, EventType, MAX_BATCH_SIZE};

use crate::error::{Error, Location};
use crate::source::{Source, VarintError};

/// Go's `NoExperiment`: a plain `EventBatch`.
pub(crate) const NO_EXPERIMENT: u8 = 0;

/// One batch, its payload not yet decoded.
#[derive(Debug)]
pub(crate) struct Batch {
    /// The thread that wrote it (Go's `ThreadID`, -1 for no thread).
    pub m: i64,
    /// Base timestamp, in the trace's clock units.
    pub time: u64,
    /// Where its payload is in the arena it was read into (see [`read_batch`]).
    pub data: Range<usize>,
    /// The experiment of an `ExperimentalBatch`, else [`NO_EXPERIMENT`].
    pub exp: u8,
    /// Index of the batch in the file.
    pub index: u64,
    /// Byte offset of the batch header in the file.
    pub offset: u64,
    /// Byte offset of the first payload byte in the file.
    pub data_offset: u64,
}

impl Batch {
    /// Its payload, in the `arena` it was read into.
    pub(crate) fn payload<'a>(&self, arena: &'a [u8]) -> &'a [u8] {
        arena.get(self.data.clone()).unwrap_or_default()
    }

    /// The type of its first event (which says what kind of batch it is), `arena` holding its
    /// payload; none for an experimental or empty batch.
    pub(crate) fn first_type(&self, arena: &[u8]) -> Option<EventType> {
        if self.exp != NO_EXPERIMENT {
            return None;
        }
        self.payload(arena).first().map(|&b| EventType(b))
    }

    /// Where this batch is, for errors about it.
    pub(crate) fn location(&self, generation: u64) -> Location {
        Location {
            generation: Some(generation),
            thread: Some(self.m),
            batch: Some(self.index),
            batch_offset: Some(self.offset),
            ..Location::default()
        }
    }
}

/// Whether a batch whose first event is of type `first` holds the generation's clock data: a lone
/// `Frequency` before Go 1.25, a `Sync` batch from then on.
pub(crate) fn is_sync(first: EventType, version: gotrace_wire::Version) -> bool {
    match first {
        EventType::FREQUENCY => version < gotrace_wire::Version::Go125,
        EventType::SYNC => version >= gotrace_wire::Version::Go125,
        _ => false,
    }
}

/// An event batch kept for the merge: only what reading its events and placing their errors
/// needs (its thread is that of its list, and it is no experiment). 48 bytes against the 72 of
/// a [`Batch`] as it was then: a device's trace has a batch every 200 bytes or so, and the smaller records
/// took its peak heap from 1.72 to 1.55 times its largest generation.
///
/// Its payload is a range of its generation's arena, where every event batch's payload is (see
/// [`read_batch`]), rather than an allocation of its own: a device's trace has a batch every 200
/// bytes or so, and an allocation and a free each, and the cursor's load of the batch's own
/// pointer at every event, cost more than the arena's reallocations while it grows.
#[derive(Debug)]
pub(crate) struct EventBatch {
    /// Base timestamp, in the trace's clock units.
    pub time: u64,
    /// The payload's start and end in the generation's arena.
    pub start: usize,
    pub end: usize,
    /// Index of the batch in the file.
    pub index: u64,
    /// Byte offset of the batch header in the file.
    pub offset: u64,
    /// Byte offset of the first payload byte in the file.
    pub data_offset: u64,
}

impl EventBatch {
    /// The byte offset in the file of position `pos` of the arena, within this batch's payload.
    pub(crate) fn file_offset(&self, pos: usize) -> u64 {
        self.data_offset + pos.saturating_sub(self.start) as u64
    }
}

impl From<Batch> for EventBatch {
    fn from(batch: Batch) -> Self {
        EventBatch {
            time: batch.time,
            start: batch.data.start,
            end: batch.data.end,
            index: batch.index,
            offset: batch.offset,
            data_offset: batch.data_offset,
        }
    }
}

/// Makes room at the end of `arena` for `size` more bytes. It grows by an eighth of what it holds
/// (or 4 KiB) rather than doubling: it holds a generation, and doubling would leave up to as much
/// again unused (the peak heap is measured against the largest generation).
pub(crate) fn reserve_payload(arena: &mut Vec<u8>, size: usize) {
    if arena.capacity() - arena.len() < size {
        arena.reserve_exact(size.max(arena.len() / 8).max(4 << 10));
    }
}

/// A batch header as read: a batch's fields, or a lone `EndOfGeneration` byte.
#[derive(Debug, PartialEq, Eq)]
enum Header {
    Batch {
        exp: u8,
        gen: u64,
        m: u64,
        time: u64,
        size: u64,
    },
    EndOfGeneration,
}

/// Reads the next batch and its generation number; `None` at a clean end of the stream. Its
/// payload is appended to `arena` (nothing is appended when it fails).
///
/// Like Go's reader, this accepts the header byte of any batch kind whatever the version, and a
/// lone `EndOfGeneration` byte; what is allowed where is decided by the generation reader.
pub(crate) fn read_batch<R: Read>(
    source: &mut Source<R>,
    index: u64,
    arena: &mut Vec<u8>,
) -> Result<Option<(Batch, u64)>, Error> {
    let offset = source.offset();
    // A device's trace has a batch every 200 bytes or so: a plain batch's header whole in the
    // buffer is read there at once; any other, and every failure, as Go reads it.
    let header = match header_in(source.buffered()) {
        Some((header, len)) => {
            source.consume(len);
            header
        }
        None => match read_header(source, index, offset)? {
            Some(header) => header,
            None => return Ok(None),
        },
    };
    let Header::Batch {
        exp,
        gen,
        m,
        time,
        size,
    } = header
    else {
        let start = arena.len();
        arena.push(EventType::END_OF_GENERATION.0);
        let batch = Batch {
            m: -1,
            time: 0,
            data: start..arena.len(),
            exp: NO_EXPERIMENT,
            index,
            offset,
            data_offset: offset,
        };
        return Ok(Some((batch, 0)));
    };
    // Where an error is, built only for one.
    let location = || Location {
        generation: Some(gen),
        thread: Some(m as i64),
        batch: Some(index),
        batch_offset: Some(offset),
        ..Location::default()
    };
    if size > MAX_BATCH_SIZE {
        return Err(Error::new(format!(
            "invalid batch size {size}, maximum is {MAX_BATCH_SIZE}"
        ))
        .at(&location()));
    }
    // Bounded by MAX_BATCH_SIZE just above.
    let size = size as usize;
    let data_offset = source.offset();
    let start = arena.len();
    reserve_payload(arena, size);
    let read = source.read_up_to(size, arena);
    let got = arena.len() - start;
    if got != size || read.is_err() {
        arena.truncate(start);
    }
    if got != size {
        // Go's message whether the stream ended or failed; a failure is kept as the source.
        let short = Error::new(format!(
            "failed to read full batch: read {got} but wanted {size}"
        ));
        let short = match read {
            Err(failure) => short.caused_by(failure),
            Ok(_) => short,
        };
        return Err(short.at(&location()));
    }
    if let Err(e) = read {
        return Err(Error::io(format!("copying batch data: {e}"), e).at(&location()));
    }
    let batch = Batch {
        m: m as i64,
        time,
        data: start..arena.len(),
        exp,
        index,
        offset,
        data_offset,
    };
    Ok(Some((batch, gen)))
}

/// The header of a plain `EventBatch` whose bytes lie whole in `buf`, and its length; `None` for
/// any other (read by [`read_header`]). Its varints are decoded as [`Source::read_uvarint`]
/// decodes those whole in its buffer, so a header read here is the header read there.
#[inline]
fn header_in(buf: &[u8]) -> Option<(Header, usize)> {
    if *buf.first()? != EventType::EVENT_BATCH.0 {
        return None;
    }
    let mut fields = [0u64; 4];
    let mut at = 1;
    for field in &mut fields {
        let rest = buf.get(at..)?;
        // Most of a header's fields but its time are one byte.
        let (value, len) = match rest.first() {
            Some(&byte) if byte < 0x80 => (u64::from(byte), 1),
            _ => varint::decode(rest).ok()?,
        };
        *field = value;
        at += len;
    }
    let [gen, m, time, size] = fields;
    let header = Header::Batch {
        exp: NO_EXPERIMENT,
        gen,
        m,
        time,
        size,
    };
    Some((header, at))
}

/// Reads a batch header byte by byte as Go does, with Go's errors; `None` at a clean end of the
/// stream.
#[cold]
fn read_header<R: Read>(
    source: &mut Source<R>,
    index: u64,
    offset: u64,
) -> Result<Option<Header>, Error> {
    let location = Location {
        batch: Some(index),
        batch_offset: Some(offset),
        ..Location::default()
    };
    let header = match source.read_byte() {
        Ok(Some(byte)) => EventType(byte),
        Ok(None) => return Ok(None),
        Err(e) => return Err(Error::io(e.to_string(), e).at(&location)),
    };
    if header == EventType::END_OF_GENERATION {
        return Ok(Some(Header::EndOfGeneration));
    }
    if header != EventType::EVENT_BATCH && header != EventType::EXPERIMENTAL_BATCH {
        return Err(
            Error::new(format!("expected batch event, got event {}", header.0)).at(&location),
        );
    }
    let mut exp = NO_EXPERIMENT;
    if header == EventType::EXPERIMENTAL_BATCH {
        exp = match source.read_byte() {
            Ok(Some(byte)) => byte,
            // Go's reader sees io.EOF here, which its callers take for the end of the trace.
            Ok(None) => return Ok(None),
            Err(e) => return Err(Error::io(e.to_string(), e).at(&location)),
        };
    }
    let mut field = |what: &str| {
        source.read_uvarint().map_err(|e| {
            let message = format!("error reading batch {what}: {}", e.go_text());
            match e {
                VarintError::Io(io) => Error::io(message, io),
                _ => Error::new(message),
            }
            .at(&location)
        })
    };
    let gen = field("gen")?;
    let m = field("M ID")?;
    let time = field("timestamp")?;
    let size = field("size")?;
    Ok(Some(Header::Batch {
        exp,
        gen,
        m,
        time,
        size,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<Option<(Batch, u64)>, String> {
        let mut arena = Vec::new();
        let read = read_batch(&mut Source::new(bytes), 0, &mut arena);
        if read.is_err() {
            assert!(arena.is_empty(), "a failed read leaves the arena as it was");
        }
        read.map_err(|e| e.go_message())
    }

    #[test]
    fn reads_a_batch_header_and_payload() {
        let mut arena = vec![9];
        let mut source = Source::new(&[1, 3, 7, 100, 2, 0xaa, 0xbb][..]);
        let (batch, gen) = read_batch(&mut source, 0, &mut arena).unwrap().unwrap();
        assert_eq!((gen, batch.m, batch.time), (3, 7, 100));
        assert_eq!(batch.payload(&arena), [0xaa, 0xbb]);
        assert_eq!(arena, [9, 0xaa, 0xbb]);
        assert_eq!(batch.data_offset, 5);
        assert!(read(&[]).unwrap().is_none());
    }

    /// A header read from the buffer at once is the header read byte by byte, and as long:
    /// over headers with fields of every varint length, non-minimal ones, cut short anywhere,
    /// too long and with other first bytes (then the buffer is not used).
    #[test]
    fn a_header_in_the_buffer_is_read_as_byte_by_byte() {
        let mut next = crate::source::numbers_below(0x2545_f491_4f6c_dd1d);
        let mut fast = 0;
        for _ in 0..20_000 {
            let mut bytes = vec![[1, 1, 1, 49, 52, 0][next(6) as usize]];
            for _ in 0..4 {
                let longest = if next(4) == 0 { 11 } else { 3 };
                let len = 1 + next(longest) as usize;
                for i in 0..len {
                    let more = if i + 1 < len { 0x80 } else { 0 };
                    bytes.push(next(128) as u8 | more);
                }
            }
            if next(2) == 0 {
                bytes.truncate(next(bytes.len() as u64 + 1) as usize);
            }
            if let Some((header, len)) = header_in(&bytes) {
                fast += 1;
                let mut source = Source::new(&bytes[..]);
                let read = read_header(&mut source, 0, 0).map_err(|e| e.go_message());
                assert_eq!(read, Ok(Some(header)), "{bytes:x?}");
                assert_eq!(source.offset(), len as u64, "{bytes:x?}");
            }
        }
        assert!(fast > 1000, "{fast} headers read from the buffer");
    }

    #[test]
    fn reports_gos_errors() {
        assert_eq!(read(&[9]).unwrap_err(), "expected batch event, got event 9");
        assert_eq!(read(&[1]).unwrap_err(), "error reading batch gen: EOF");
        assert_eq!(
            read(&[1, 1, 0x80]).unwrap_err(),
            "error reading batch M ID: unexpected EOF"
        );
        assert_eq!(
            read(&[1, 1, 0, 0, 0x81, 0x80, 0x04]).unwrap_err(),
            "invalid batch size 65537, maximum is 65536"
        );
        assert_eq!(
            read(&[1, 1, 0, 0, 3, 0]).unwrap_err(),
            "failed to read full batch: read 1 but wanted 3"
        );
    }
}
