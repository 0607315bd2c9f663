//! Turns the bytes of the trace channel into valid trace segments and an exact loss account.
//!
//! The device writes the Go header, then whole batches in generation order, with our loss and
//! end records (see `gotrace_rtt_protocol`) spliced in between batches. A generation is known to
//! be complete when a batch of a later one arrives or the end record does. A loss record names
//! the generations the device could not send whole: what the host holds of them is discarded
//! (it would not parse), the current segment is closed, and the next complete generation opens a
//! new one, because Go's parser refuses a gap in generation numbers within one trace.
//!
//! Each complete generation is handed on at once (`take_complete`) rather than kept: the stream
//! holds only the generation being collected and an item not all come, however long the session.

use gotrace_rtt_protocol::{EndRecord, LossRecord, END_MARKER, LOSS_MARKER};
use gotrace_wire::{spec, varint, EventType, Version, HEADER_LEN, MAX_BATCH_SIZE};

/// The trace channel broke its contract; `offset` counts bytes from the channel's start.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("trace channel offset {offset}: expected the Go 1.22 header, got {found:02x?}")]
    Header { offset: u64, found: Vec<u8> },
    /// Where a batch, a loss record or the end record must start. A sink that dropped part of a
    /// batch (an RTT write that skips or trims when the channel is full) lands here: say so.
    #[error("trace channel offset {offset}: unexpected byte {byte:#04x} between batches (a batch that came in part, or something else written on the channel: the firmware's sink must write each batch whole or not at all)")]
    Unexpected { offset: u64, byte: u8 },
    /// The byte a trace's header begins with, where a batch or record must start: a firmware
    /// that restarted (a board reset that the link cannot see) writes its new trace from there.
    #[error("trace channel offset {offset}: byte 0x67 between batches, as a trace's header (\"go 1.22 trace\") begins: the firmware restarted (a reset?) and began a new trace, or something else was written on the channel")]
    HeaderAgain { offset: u64 },
    #[error("trace channel offset {offset}: bad batch header: {why}")]
    BatchHeader { offset: u64, why: String },
    #[error(
        "trace channel offset {offset}: batch of generation {found} after generation {current}"
    )]
    OutOfOrder {
        offset: u64,
        found: u64,
        current: u64,
    },
    /// The device writes every generation, or a loss record naming it: a batch or loss record
    /// that skips one would leave a gap that nothing reports.
    #[error(
        "trace channel offset {offset}: {what} of generation {found} where generation {due} was due, with no loss record for those between"
    )]
    Gap {
        offset: u64,
        what: &'static str,
        found: u64,
        due: u64,
    },
    /// A record whose fields cannot come from a device's account (a loss of no batch, of
    /// generations in reverse or of a generation already complete or lost, an end whose produced
    /// less dropped is not what arrived): the bytes are not a record.
    #[error("trace channel offset {offset}: bad {what} record")]
    Record { offset: u64, what: &'static str },
    #[error("trace channel offset {offset}: data after the end record")]
    AfterEnd { offset: u64 },
    /// The host holds the generation being collected until it completes, and every reader of
    /// the trace holds a whole generation too: one that never ends would grow without bound.
    #[error("trace channel offset {offset}: generation {generation} passed {limit} bytes without ending: the firmware ends no generation (an encoder `Config` with neither a generation period nor a byte limit, such as `Config::MANUAL`, and no `advance`), and no reader of the trace would hold one this large")]
    GenerationTooLarge {
        offset: u64,
        generation: u64,
        limit: usize,
    },
}

/// The most bytes of one generation the host collects: far beyond what a device writes in one
/// (the example firmware's are a few KiB), and what a reader of the trace must hold at once.
pub const MAX_GENERATION_BYTES: usize = 256 << 20;

/// A run of consecutive complete generations: one valid trace file, its generations appended
/// as they complete (the header first). Its bytes are not kept here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segment {
    pub first_generation: u64,
    pub last_generation: u64,
    pub batches: u64,
    /// Bytes of its batches as the device wrote them (without the header).
    pub bytes: u64,
}

impl Segment {
    pub fn generations(&self) -> u64 {
        self.last_generation - self.first_generation + 1
    }
}

/// The batches of one generation as the device wrote them, in the order they came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generation {
    pub number: u64,
    pub batches: u64,
    pub bytes: Vec<u8>,
}

/// A complete generation, for the end of segment `segment` (0, 1, ... in order: the first
/// generation of each opens it).
#[derive(Debug)]
pub struct Complete {
    pub segment: usize,
    pub generation: Generation,
}

/// What the host knows about losses: the device's records plus what it had to discard itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LossAccount {
    pub records: Vec<LossRecord>,
    /// Batches of lost generations that did arrive but were discarded (they cannot parse).
    pub discarded_batches: u64,
    pub discarded_bytes: u64,
    /// The channel offset and length of a batch or record that the session's end cut off (it
    /// stopped before they all came): in no trace.
    pub unfinished: Option<(u64, u64)>,
    /// The generation the session's end found still being collected, which nothing completed
    /// (no end record, no batch of a later generation): discarded by the host itself. Its loss
    /// record, of no batch, is the last of `records`, so that `lost_generations` names it too.
    pub cut_short: Option<CutShort>,
}

/// A generation the host discarded because the session ended before it was known complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutShort {
    pub generation: u64,
    /// Its batches and bytes that had come (counted in `discarded_*` too).
    pub batches: u64,
    pub bytes: u64,
}

impl LossAccount {
    /// The loss records the device wrote (without the host's own, for a generation cut short).
    pub fn device_records(&self) -> &[LossRecord] {
        let own = usize::from(self.cut_short.is_some());
        &self.records[..self.records.len() - own]
    }

    pub fn device_dropped_batches(&self) -> u64 {
        self.records.iter().map(|r| u64::from(r.batches)).sum()
    }

    pub fn device_dropped_bytes(&self) -> u64 {
        self.records.iter().map(|r| u64::from(r.bytes)).sum()
    }

    /// Counts `generation` (batches that did arrive) as discarded: it cannot be kept whole.
    fn discard(&mut self, generation: &Generation) {
        self.discarded_batches += generation.batches;
        self.discarded_bytes += generation.bytes.len() as u64;
    }

    /// The generations that are not in the output, in order, as ranges (first, last): a record
    /// can name a long run of generations, which is never listed one by one.
    pub fn lost_generations(&self) -> Vec<(u64, u64)> {
        Self::ranges(&self.records)
    }

    /// The generations `records` name, in order, as ranges (see `lost_generations`).
    pub fn ranges(records: &[LossRecord]) -> Vec<(u64, u64)> {
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for r in records {
            match ranges.last_mut() {
                Some((_, last)) if r.first_generation <= last.saturating_add(1) => {
                    *last = (*last).max(r.last_generation);
                }
                _ => ranges.push((r.first_generation, r.last_generation)),
            }
        }
        ranges
    }
}

/// Generation ranges as the summary prints them: `3, 5..=9`; of more than 24, the first and
/// last ten, with the count of those between (a lossy recording that keeps dropping has tens of
/// thousands).
pub fn generation_list(ranges: &[(u64, u64)]) -> String {
    let items = ranges.iter().map(|&(first, last)| match first == last {
        true => first.to_string(),
        false => format!("{first}..={last}"),
    });
    super::summary::joined_ends(items, 24, 10, "ranges")
}

/// The most bytes of one generation a stream collects.
#[derive(Debug)]
struct GenerationLimit(usize);

impl Default for GenerationLimit {
    fn default() -> Self {
        GenerationLimit(MAX_GENERATION_BYTES)
    }
}

/// Incremental demultiplexer of the trace channel.
#[derive(Debug, Default)]
pub struct TraceStream {
    generation_limit: GenerationLimit,
    pending: Vec<u8>,
    /// Channel offset of `pending[0]`.
    offset: u64,
    header_seen: bool,
    /// The generation being collected and its batches so far.
    current: Option<Generation>,
    /// Complete generations not yet taken.
    complete: Vec<Complete>,
    /// The segment that complete generations are appended to while they follow on.
    open: Option<Segment>,
    /// Segments ended by a gap (a loss), in order.
    closed: Vec<Segment>,
    /// The latest generation known complete or lost (0: none yet): the device writes in
    /// generation order, so no later batch or loss record names it or an earlier one.
    settled: u64,
    pub losses: LossAccount,
    pub end: Option<EndRecord>,
    pub batches: u64,
    /// Bytes of those batches, headers included, as the device counts them.
    batch_bytes: u64,
    pub events: u64,
    pub complete_generations: u64,
    /// A push failed: what is pending from there on is the error's to report, not a cut-off
    /// item.
    failed: bool,
}

impl TraceStream {
    /// A stream that refuses a generation longer than `limit` bytes.
    #[cfg(test)]
    pub fn with_generation_limit(limit: usize) -> Self {
        TraceStream {
            generation_limit: GenerationLimit(limit),
            ..Self::default()
        }
    }

    /// Feeds bytes from the channel, consuming every whole item in them.
    pub fn push(&mut self, data: &[u8]) -> Result<(), StreamError> {
        let mut pending = std::mem::take(&mut self.pending);
        pending.extend_from_slice(data);
        let mut used = 0;
        let result = loop {
            match self.item(&pending[used..], self.offset + used as u64) {
                Ok(Some(n)) => used += n,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        pending.drain(..used);
        self.pending = pending;
        self.offset += used as u64;
        self.failed |= result.is_err();
        result
    }

    /// The complete generations since the last call, in order: each is committed to its segment
    /// here, and none is kept.
    pub fn take_complete(&mut self) -> std::vec::Drain<'_, Complete> {
        self.complete.drain(..)
    }

    /// The bytes of trace held: an item not all come, the generation being collected, and the
    /// complete generations not yet taken. For the tests that bound it.
    #[cfg(test)]
    pub fn held_bytes(&self) -> usize {
        self.pending.len()
            + self.current.as_ref().map_or(0, |c| c.bytes.len())
            + self
                .complete
                .iter()
                .map(|c| c.generation.bytes.len())
                .sum::<usize>()
    }

    /// Bytes received so far, including those not yet parsed.
    pub fn received(&self) -> u64 {
        self.offset + self.pending.len() as u64
    }

    /// Bytes received and not read: after a push that failed, those from where reading
    /// stopped.
    pub fn unread(&self) -> u64 {
        self.pending.len() as u64
    }

    /// Bytes received, without those a failed push left unread (which `record` counts as
    /// late, with what later polls bring).
    pub fn taken(&self) -> u64 {
        match self.failed {
            true => self.offset,
            false => self.received(),
        }
    }

    /// The generation whose batches are being collected, not yet complete.
    pub fn collecting(&self) -> Option<u64> {
        self.current.as_ref().map(|c| c.number)
    }

    pub fn ended(&self) -> bool {
        self.end.is_some()
    }

    /// Closes the stream (the session stopped, with or without an end record), its complete
    /// generations all taken, and returns the segments. A generation still being collected
    /// (never after the end record, which completes it) may be incomplete: it is discarded, and
    /// a loss record of the host's own names it. The bytes of an item that had not all come are
    /// counted as unfinished.
    pub fn finish(mut self) -> (Vec<Segment>, LossAccount, Option<EndRecord>) {
        debug_assert!(self.complete.is_empty(), "complete generations not taken");
        if !self.failed && !self.pending.is_empty() {
            self.losses.unfinished = Some((self.offset, self.pending.len() as u64));
        }
        if let Some(current) = self.current.take() {
            self.losses.discard(&current);
            self.losses.cut_short = Some(CutShort {
                generation: current.number,
                batches: current.batches,
                bytes: current.bytes.len() as u64,
            });
            self.losses.records.push(LossRecord {
                first_generation: current.number,
                last_generation: current.number,
                batches: 0,
                bytes: 0,
            });
        }
        self.closed.extend(self.open.take());
        (self.closed, self.losses, self.end)
    }

    /// Parses one item at the start of `buf`; `Ok(None)` if it is not all there yet.
    fn item(&mut self, buf: &[u8], offset: u64) -> Result<Option<usize>, StreamError> {
        if !self.header_seen {
            if buf.len() < HEADER_LEN {
                return Ok(None);
            }
            if buf[..HEADER_LEN] != Version::Go122.header() {
                return Err(StreamError::Header {
                    offset,
                    found: buf[..HEADER_LEN].to_vec(),
                });
            }
            self.header_seen = true;
            return Ok(Some(HEADER_LEN));
        }
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        if self.end.is_some() {
            return Err(StreamError::AfterEnd { offset });
        }
        match first {
            b if b == EventType::EVENT_BATCH.0 => self.batch(buf, offset),
            LOSS_MARKER => {
                let Some(record) = record(buf, LossRecord::from_bytes) else {
                    return Ok(None);
                };
                // The device drops from the generation it is writing on: none before the one
                // being collected here, nor one already complete or lost.
                let before_current = self
                    .current
                    .as_ref()
                    .is_some_and(|c| record.first_generation < c.number);
                if record.batches == 0
                    || record.first_generation > record.last_generation
                    || record.first_generation <= self.settled
                    || before_current
                {
                    return Err(StreamError::Record {
                        offset,
                        what: "loss",
                    });
                }
                self.no_gap_before(record.first_generation, offset, "loss record")?;
                self.loss(record);
                Ok(Some(1 + LossRecord::LEN))
            }
            END_MARKER => {
                let Some(record) = record(buf, EndRecord::from_bytes) else {
                    return Ok(None);
                };
                // The device's counts are `u32`s that wrap (a long lossy session produces more
                // than 4 GiB, and may drop more bytes than the count shows as produced): what it
                // produced less what it dropped and what it overwrote (a flight recorder's
                // oldest generations) is what arrived here, modulo 2^32.
                let arrived = |produced: u32, dropped: u32, overwritten: u32| {
                    produced.wrapping_sub(dropped).wrapping_sub(overwritten)
                };
                if arrived(
                    record.batches,
                    record.dropped_batches,
                    record.overwritten_batches,
                ) != self.batches as u32
                    || arrived(record.bytes, record.dropped_bytes, record.overwritten_bytes)
                        != self.batch_bytes as u32
                {
                    return Err(StreamError::Record {
                        offset,
                        what: "end",
                    });
                }
                self.end = Some(record);
                if let Some(current) = self.current.take() {
                    self.commit(current);
                }
                Ok(Some(1 + EndRecord::LEN))
            }
            b'g' => Err(StreamError::HeaderAgain { offset }),
            byte => Err(StreamError::Unexpected { offset, byte }),
        }
    }

    fn batch(&mut self, buf: &[u8], offset: u64) -> Result<Option<usize>, StreamError> {
        let mut at = 1;
        let mut fields = [0u64; 4];
        for field in &mut fields {
            match varint::decode(&buf[at..]) {
                Ok((v, n)) => {
                    *field = v;
                    at += n;
                }
                Err(varint::VarintError::Truncated) => return Ok(None),
                Err(varint::VarintError::Overflow) => {
                    // Said in words: the error's debug form, "Overflow", was the whole reason.
                    return Err(StreamError::BatchHeader {
                        offset,
                        why: "a field's varint does not fit in 64 bits".to_owned(),
                    });
                }
            }
        }
        let [generation, _m, _time, size] = fields;
        if generation == 0 {
            let latest = self.current.as_ref().map_or(self.settled, |c| c.number);
            // Our encoder numbers a trace's generations in 32 bits (RAM on the device), so a
            // trace ends after 2^32 - 1 of them: 49.7 days at 1 ms each.
            let why = if latest == u64::from(u32::MAX) {
                "generation 0 after 4294967295: the device's 32-bit generation number wrapped, \
                 which ends a trace (start a new recording)"
            } else {
                "generation 0 (generations count from 1)"
            };
            return Err(StreamError::BatchHeader {
                offset,
                why: why.to_owned(),
            });
        }
        if size > MAX_BATCH_SIZE {
            return Err(StreamError::BatchHeader {
                offset,
                why: format!("size {size}, beyond the largest batch ({MAX_BATCH_SIZE} bytes)"),
            });
        }
        let end = at + size as usize;
        if buf.len() < end {
            return Ok(None);
        }
        if generation <= self.settled {
            return Err(StreamError::OutOfOrder {
                offset,
                found: generation,
                current: self.current.as_ref().map_or(self.settled, |c| c.number),
            });
        }
        self.no_gap_before(generation, offset, "batch")?;
        match &self.current {
            Some(c) if generation < c.number => {
                return Err(StreamError::OutOfOrder {
                    offset,
                    found: generation,
                    current: c.number,
                })
            }
            Some(c) if generation > c.number => {
                let done = self.current.take().expect("matched Some");
                self.commit(done);
            }
            _ => {}
        }
        // Checked before a new generation is opened: a first batch refused would have left an
        // empty generation behind, which `finish` reported as cut short.
        let held = self.current.as_ref().map_or(0, |c| c.bytes.len());
        if held + end > self.generation_limit.0 {
            return Err(StreamError::GenerationTooLarge {
                offset,
                generation,
                limit: self.generation_limit.0,
            });
        }
        let current = self.current.get_or_insert_with(|| Generation {
            number: generation,
            ..Generation::default()
        });
        current.batches += 1;
        current.bytes.extend_from_slice(&buf[..end]);
        self.batches += 1;
        self.batch_bytes += end as u64;
        self.events += count_events(&buf[at..end]);
        Ok(Some(end))
    }

    /// Refuses an item of a generation after the one that may follow: the one being
    /// collected's next, or the one after the last complete or lost (none yet: a trace may start
    /// at any).
    fn no_gap_before(
        &self,
        generation: u64,
        offset: u64,
        what: &'static str,
    ) -> Result<(), StreamError> {
        let due = match &self.current {
            Some(c) => c.number,
            None if self.settled == 0 => return Ok(()),
            None => self.settled,
        }
        .saturating_add(1);
        if generation > due {
            return Err(StreamError::Gap {
                offset,
                what,
                found: generation,
                due,
            });
        }
        Ok(())
    }

    fn loss(&mut self, record: LossRecord) {
        if let Some(current) = self.current.take() {
            if current.number >= record.first_generation {
                self.losses.discard(&current);
            } else {
                self.commit(current);
            }
        }
        self.closed.extend(self.open.take());
        self.settled = record.last_generation;
        self.losses.records.push(record);
    }

    /// Appends a complete generation to the open segment, or opens a new one after a gap, and
    /// hands it on.
    fn commit(&mut self, generation: Generation) {
        self.complete_generations += 1;
        self.settled = generation.number;
        let bytes = generation.bytes.len() as u64;
        match &mut self.open {
            Some(open) if open.last_generation + 1 == generation.number => {
                open.last_generation = generation.number;
                open.batches += generation.batches;
                open.bytes += bytes;
            }
            _ => {
                self.closed.extend(self.open.take());
                self.open = Some(Segment {
                    first_generation: generation.number,
                    last_generation: generation.number,
                    batches: generation.batches,
                    bytes,
                });
            }
        }
        self.complete.push(Complete {
            segment: self.closed.len(),
            generation,
        });
    }
}

/// The loss or end record at the start of `buf` (its marker byte, then the record's `N` bytes);
/// `None` while it is not all there.
fn record<const N: usize, T>(buf: &[u8], from_bytes: fn(&[u8; N]) -> T) -> Option<T> {
    let bytes = buf.get(1..1 + N)?;
    Some(from_bytes(bytes.try_into().expect("a slice of N bytes")))
}

/// Counts the timed events of a batch body for progress display. The decoder validates later;
/// anything this walk does not understand just ends the count.
fn count_events(mut body: &[u8]) -> u64 {
    let mut events = 0;
    let skip = |body: &mut &[u8]| -> Option<u64> {
        let (v, n) = varint::decode(body).ok()?;
        *body = &body[n..];
        Some(v)
    };
    while let Some((&typ, rest)) = body.split_first() {
        body = rest;
        let Some(spec) = spec(Version::Go122, EventType(typ)) else {
            break;
        };
        let mut last = 0;
        for _ in spec.args {
            match skip(&mut body) {
                Some(v) => last = v,
                None => return events,
            }
        }
        if spec.is_stack {
            for _ in 0..last.saturating_mul(4) {
                if skip(&mut body).is_none() {
                    return events;
                }
            }
        }
        if spec.has_data {
            match skip(&mut body) {
                Some(len) if len as usize <= body.len() => body = &body[len as usize..],
                _ => return events,
            }
        }
        if spec.is_timed {
            events += 1;
        }
    }
    events
}

#[cfg(test)]
pub(super) mod property;

#[cfg(test)]
mod sink_host;

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A batch of generation `generation` on M 0 holding one ProcStart-like timed event: enough
    /// for the demultiplexer, which checks framing, not events.
    pub(in crate::record) fn batch(generation: u64) -> Vec<u8> {
        let body = [EventType::PROC_START.0, 1, 0, 1];
        let mut out = vec![EventType::EVENT_BATCH.0];
        for field in [generation, 0, 5, body.len() as u64] {
            let mut bytes = [0; varint::MAX_LEN];
            let n = varint::encode(field, &mut bytes);
            out.extend_from_slice(&bytes[..n]);
        }
        out.extend_from_slice(&body);
        out
    }

    pub(in crate::record) fn loss(first: u64, last: u64, batches: u32, bytes: u32) -> Vec<u8> {
        let record = LossRecord {
            first_generation: first,
            last_generation: last,
            batches,
            bytes,
        };
        [&[LOSS_MARKER][..], &record.to_bytes()].concat()
    }

    pub(in crate::record) fn end(
        batches: u32,
        bytes: u32,
        dropped_batches: u32,
        dropped_bytes: u32,
    ) -> Vec<u8> {
        let record = EndRecord {
            batches,
            bytes,
            dropped_batches,
            dropped_bytes,
            ..EndRecord::default()
        };
        [&[END_MARKER][..], &record.to_bytes()].concat()
    }

    #[test]
    fn a_generation_that_never_ends_is_refused_at_the_limit_not_held_without_bound() {
        // A firmware that ends no generation: the host held all it sent in one generation.
        let size = batch(1).len();
        let mut stream = TraceStream::with_generation_limit(3 * size);
        let mut items = vec![Version::Go122.header().to_vec(), batch(1), batch(1)];
        // Two generations of three batches each fit: the limit is per generation.
        items.extend([batch(2), batch(2), batch(2), batch(3)]);
        for item in &items {
            stream.push(item).unwrap();
        }
        assert_eq!(stream.take_complete().count(), 2);
        stream.push(&[batch(3), batch(3)].concat()).unwrap();
        let offset = stream.received();
        let error = stream.push(&batch(3)).unwrap_err();
        assert!(
            matches!(
                error,
                StreamError::GenerationTooLarge { offset: o, generation: 3, limit } if o == offset && limit == 3 * size
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("Config::MANUAL"), "{error}");
        assert_eq!(
            stream.held_bytes(),
            3 * size + size,
            "the generation, and the batch refused"
        );
    }

    #[test]
    fn the_events_counted_are_the_timed_ones_past_strings_and_stacks_to_where_the_walk_stops() {
        let go_start = [EventType::GO_START.0, 2, 1, 1];
        // ProcStart, GoStart, GoStop: three timed events.
        let timed = [
            &[EventType::PROC_START.0, 5, 0, 1][..],
            &go_start,
            &[EventType::GO_STOP.0, 1, 1, 0],
        ]
        .concat();
        assert_eq!(count_events(&timed), 3);
        // A string whose bytes, and a stack whose frames, read as events would count more: they
        // are skipped, and neither is timed.
        let string = [
            &[EventType::STRINGS.0, EventType::STRING.0, 1, 4][..],
            &go_start,
        ]
        .concat();
        let stack = [
            &[EventType::STACKS.0, EventType::STACK.0, 1, 2][..],
            &go_start,
            &go_start,
        ]
        .concat();
        assert_eq!(count_events(&[&string[..], &stack, &timed].concat()), 3);
        // What the walk cannot read ends the count: a string longer than what is left, an event
        // cut short, a type it does not know.
        let long_string = [EventType::STRING.0, 2, timed.len() as u8 + 1];
        assert_eq!(
            count_events(&[&timed[..], &long_string, &timed].concat()),
            3
        );
        assert_eq!(count_events(&[&timed[..], &timed[..2]].concat()), 3);
        assert_eq!(count_events(&[&timed[..], &[0x7f], &timed].concat()), 3);
        assert_eq!(count_events(&[&timed[..], &timed].concat()), 6);
    }

    #[test]
    fn the_generation_being_collected_is_the_one_not_yet_complete() {
        // A flight recording's progress row names it ("part of generation N") while the channel
        // holds no complete generation.
        let mut stream = TraceStream::with_generation_limit(1 << 20);
        stream.push(&Version::Go122.header()).unwrap();
        assert_eq!(stream.collecting(), None, "no batch yet");
        for (item, collecting) in [(batch(2), 2), (batch(2), 2), (batch(3), 3)] {
            stream.push(&item).unwrap();
            assert_eq!(stream.collecting(), Some(collecting));
        }
        assert_eq!(
            stream.take_complete().count(),
            1,
            "generation 2 completed by 3's batch"
        );
        assert_eq!(stream.collecting(), Some(3));
    }

    #[test]
    fn a_first_batch_beyond_the_limit_leaves_no_generation_cut_short() {
        let size = batch(1).len();
        let mut stream = TraceStream::with_generation_limit(size - 1);
        stream.push(&Version::Go122.header()).unwrap();
        let error = stream.push(&batch(1)).unwrap_err();
        assert!(
            matches!(error, StreamError::GenerationTooLarge { generation: 1, .. }),
            "{error:?}"
        );
        let (_, losses, _) = stream.finish();
        assert_eq!(losses.cut_short, None, "no batch of generation 1 was taken");
        assert!(losses.records.is_empty(), "{:?}", losses.records);
    }

    #[test]
    fn a_loss_splits_segments_and_discards_the_broken_generation() {
        let mut bytes = Version::Go122.header().to_vec();
        for item in [batch(1), batch(1), batch(2), batch(3), loss(3, 3, 1, 9)] {
            bytes.extend(item);
        }
        bytes.extend(batch(4));
        // Five batches arrived (nine bytes each), one was dropped.
        bytes.extend(end(6, 54, 1, 9));
        let mut stream = TraceStream::default();
        let mut complete = Vec::new();
        // Byte by byte: every item must survive being cut anywhere.
        for b in &bytes {
            stream.push(std::slice::from_ref(b)).unwrap();
            complete.extend(stream.take_complete().map(|c| (c.segment, c.generation)));
        }
        assert!(stream.ended());
        assert_eq!(stream.events, 5);
        let (segments, losses, end) = stream.finish();
        // Each complete generation was handed on whole, for its segment.
        let whole = |generation, batches: &[Vec<u8>]| Generation {
            number: generation,
            batches: batches.len() as u64,
            bytes: batches.concat(),
        };
        assert_eq!(
            complete,
            [
                (0, whole(1, &[batch(1), batch(1)])),
                (0, whole(2, &[batch(2)])),
                (1, whole(4, &[batch(4)]))
            ]
        );
        let spans: Vec<_> = segments
            .iter()
            .map(|s| (s.first_generation, s.last_generation, s.batches))
            .collect();
        assert_eq!(spans, [(1, 2, 3), (4, 4, 1)]);
        assert_eq!(losses.lost_generations(), [(3, 3)]);
        assert_eq!(losses.discarded_batches, 1);
        assert_eq!(losses.discarded_bytes, batch(3).len() as u64);
        assert_eq!(losses.device_dropped_batches(), 1);
        assert_eq!(end.unwrap().dropped_batches, 1);
    }

    #[test]
    fn lost_generations_are_ranges_merged_in_order_never_listed_one_by_one() {
        let record = |first_generation, last_generation| LossRecord {
            first_generation,
            last_generation,
            batches: 1,
            bytes: 10,
        };
        let losses = LossAccount {
            // Adjacent and overlapping records merge; a run as long as a u64 allocates nothing.
            records: vec![
                record(3, 3),
                record(4, 6),
                record(6, 7),
                record(9, 9),
                record(11, 1 << 60),
            ],
            ..LossAccount::default()
        };
        let ranges = losses.lost_generations();
        assert_eq!(ranges, [(3, 7), (9, 9), (11, 1 << 60)]);
        assert_eq!(
            generation_list(&ranges),
            "3..=7, 9, 11..=1152921504606846976"
        );
        let many: Vec<(u64, u64)> = (1..=24).map(|n| (2 * n, 2 * n + 1)).collect();
        assert_eq!(generation_list(&many).split(", ").count(), 24);
        let many: Vec<(u64, u64)> = (1..=25).map(|n| (2 * n, 2 * n)).collect();
        assert_eq!(
            generation_list(&many),
            "2, 4, 6, 8, 10, 12, 14, 16, 18, 20, … 5 ranges more …, \
             32, 34, 36, 38, 40, 42, 44, 46, 48, 50"
        );
    }

    #[test]
    fn an_unfinished_generation_without_end_is_reported_lost() {
        let mut stream = TraceStream::default();
        stream.push(&Version::Go122.header()).unwrap();
        stream.push(&batch(1)).unwrap();
        stream.push(&batch(2)).unwrap();
        assert_eq!(stream.take_complete().count(), 1);
        let (segments, losses, end) = stream.finish();
        assert_eq!(segments.len(), 1);
        assert_eq!(segments[0].last_generation, 1);
        assert_eq!(losses.lost_generations(), [(2, 2)]);
        assert!(end.is_none());
    }

    #[test]
    fn a_trace_header_between_batches_is_said_to_be_a_restart() {
        // A board reset under the recording (the probe-rs path, which reads the read offset
        // the firmware set back): the new trace's header came as "unexpected byte 0x67 between
        // batches (a batch that came in part, ...)", which does not say the firmware restarted.
        let mut stream = TraceStream::default();
        let header = Version::Go122.header();
        stream
            .push(&[&header[..], &batch(1), &batch(2)].concat())
            .unwrap();
        let at = (header.len() + 2 * batch(1).len()) as u64;
        let err = stream.push(&header[..1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("trace channel offset {at}: byte 0x67 between batches, as a trace's header (\"go 1.22 trace\") begins: the firmware restarted (a reset?) and began a new trace, or something else was written on the channel")
        );
    }

    #[test]
    fn garbage_is_reported_with_its_offset() {
        let mut stream = TraceStream::default();
        stream.push(&Version::Go122.header()).unwrap();
        let err = stream.push(&[0x42]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "trace channel offset 16: unexpected byte 0x42 between batches (a batch that came in part, or something else written on the channel: the firmware's sink must write each batch whole or not at all)"
        );
        let mut stream = TraceStream::default();
        assert!(matches!(
            stream.push(b"go 1.21 trace\0\0\0"),
            Err(StreamError::Header { offset: 0, .. })
        ));
        let mut stream = TraceStream::default();
        stream.push(&Version::Go122.header()).unwrap();
        stream.push(&batch(2)).unwrap();
        assert!(matches!(
            stream.push(&batch(1)),
            Err(StreamError::OutOfOrder { .. })
        ));
        // Named after the latest generation seen, the one being collected, not the last one
        // complete.
        let mut stream = TraceStream::default();
        stream.push(&Version::Go122.header()).unwrap();
        stream.push(&[batch(2), batch(3)].concat()).unwrap();
        assert!(matches!(
            stream.push(&batch(1)),
            Err(StreamError::OutOfOrder {
                found: 1,
                current: 3,
                ..
            })
        ));
    }

    #[test]
    fn a_generation_number_that_wrapped_on_the_device_is_said_to_have() {
        let last = u64::from(u32::MAX);
        let mut stream = TraceStream::default();
        stream.push(&Version::Go122.header()).unwrap();
        stream.push(&batch(last - 1)).unwrap();
        stream.push(&batch(last)).unwrap();
        let error = stream.push(&batch(0)).unwrap_err().to_string();
        assert!(
            error.contains(
                "generation 0 after 4294967295: the device's 32-bit generation number wrapped"
            ),
            "{error}"
        );
        let mut stream = TraceStream::default();
        stream.push(&Version::Go122.header()).unwrap();
        stream.push(&batch(3)).unwrap();
        let error = stream.push(&batch(0)).unwrap_err().to_string();
        assert!(
            error.ends_with("generation 0 (generations count from 1)"),
            "{error}"
        );
    }

    #[test]
    fn a_generation_skipped_without_a_loss_record_is_refused() {
        let header = Version::Go122.header();
        for (items, error) in [
            (
                vec![batch(1), batch(3)],
                "trace channel offset 25: batch of generation 3 where generation 2 was due, with no loss record for those between",
            ),
            (
                vec![batch(1), loss(3, 3, 1, 9)],
                "trace channel offset 25: loss record of generation 3 where generation 2 was due, with no loss record for those between",
            ),
            (
                vec![loss(1, 2, 1, 9), batch(4)],
                "trace channel offset 41: batch of generation 4 where generation 3 was due, with no loss record for those between",
            ),
        ] {
            let mut stream = TraceStream::default();
            let (last, before) = items.split_last().unwrap();
            stream.push(&[header.as_slice(), &before.concat()].concat()).unwrap();
            assert_eq!(stream.push(last).unwrap_err().to_string(), error);
        }
        // A trace may start at any generation, and a loss record may name the next one.
        let mut stream = TraceStream::default();
        let items = [batch(5), batch(6), loss(7, 7, 1, 9), batch(8)];
        stream
            .push(&[header.as_slice(), &items.concat()].concat())
            .unwrap();
    }

    #[test]
    fn an_item_cut_off_at_the_end_is_reported_unfinished() {
        let mut stream = TraceStream::default();
        let bytes = [Version::Go122.header().as_slice(), &batch(1), &batch(2)].concat();
        stream.push(&bytes[..bytes.len() - 3]).unwrap();
        let (_, losses, _) = stream.finish();
        assert_eq!(losses.unfinished, Some((25, 6)));
        assert_eq!(losses.lost_generations(), [(1, 1)]);
        // Not after an error: the error says where reading stopped.
        let mut stream = TraceStream::default();
        stream.push(&Version::Go122.header()).unwrap();
        assert!(stream.push(&[0x42, 1, 2]).is_err());
        assert_eq!(stream.finish().1.unfinished, None);
    }

    #[test]
    fn a_bad_batch_header_says_what_is_wrong_with_it() {
        let header = Version::Go122.header();
        let overlong = [&[EventType::EVENT_BATCH.0][..], &[0xff; 10], &[1]].concat();
        for (batch, why) in [
            (overlong, "a field's varint does not fit in 64 bits"),
            (
                vec![EventType::EVENT_BATCH.0, 0, 0, 5, 1],
                "generation 0 (generations count from 1)",
            ),
            (
                vec![EventType::EVENT_BATCH.0, 1, 0, 5, 0x81, 0x80, 0x04],
                "size 65537, beyond the largest batch (65536 bytes)",
            ),
        ] {
            let mut stream = TraceStream::default();
            stream.push(&header).unwrap();
            let error = stream.push(&batch).unwrap_err().to_string();
            assert_eq!(
                error,
                format!("trace channel offset 16: bad batch header: {why}")
            );
        }
    }

    #[test]
    fn records_no_device_account_can_give_are_refused() {
        let header = Version::Go122.header();
        for (record, what) in [
            (loss(3, 2, 1, 9), "loss"),
            (loss(3, 3, 0, 0), "loss"),
            (end(1, 9, 2, 9), "end"),
            (end(1, 9, 1, 10), "end"),
        ] {
            let mut stream = TraceStream::default();
            stream.push(&header).unwrap();
            let err = stream.push(&record).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("trace channel offset 16: bad {what} record")
            );
        }
        // The same records from an account that can be: accepted.
        for record in [loss(2, 3, 1, 9), end(1, 9, 1, 9)] {
            let mut stream = TraceStream::default();
            stream.push(&header).unwrap();
            stream.push(&record).unwrap();
        }
        // A loss record names no generation before the one being collected, nor one already
        // complete or lost; no batch comes after its generation is.
        let refused = |items: &[Vec<u8>]| {
            let mut stream = TraceStream::default();
            stream.push(&header).unwrap();
            let (last, before) = items.split_last().unwrap();
            stream.push(&before.concat()).unwrap();
            stream.push(last).is_err()
        };
        for (items, refuse) in [
            (vec![loss(0, 0, 1, 9)], true),
            (vec![loss(1, 1, 1, 9)], false),
            (vec![batch(2), loss(1, 2, 1, 9)], true),
            (vec![batch(2), loss(2, 2, 1, 9)], false),
            (vec![batch(1), batch(2), loss(1, 1, 1, 9)], true),
            (vec![loss(2, 3, 1, 9), loss(3, 3, 1, 9)], true),
            (vec![loss(2, 3, 1, 9), loss(4, 4, 1, 9)], false),
            (vec![loss(2, 3, 1, 9), batch(3)], true),
            (vec![batch(1), batch(2), loss(3, 3, 1, 9), batch(2)], true),
            (vec![batch(1), batch(2), loss(3, 3, 1, 9), batch(4)], false),
        ] {
            assert_eq!(refused(&items), refuse, "{items:?}");
        }
        // An end record must count the batches that arrived, and their bytes.
        for (record, accepted) in [
            (end(2, 18, 0, 0), true),
            (end(3, 27, 0, 0), false),
            (end(2, 19, 0, 0), false),
            (end(3, 27, 1, 9), true),
        ] {
            let mut stream = TraceStream::default();
            stream.push(&header).unwrap();
            stream.push(&[batch(1), batch(1)].concat()).unwrap();
            assert_eq!(stream.push(&record).is_ok(), accepted, "{record:?}");
        }
    }

    #[test]
    fn an_end_record_whose_counts_wrapped_is_accepted() {
        // A long lossy session: more than 4 GiB produced, so the device's `u32` byte count
        // wrapped and now shows fewer bytes produced than dropped; one 9-byte batch arrived.
        let dropped_bytes = u32::MAX - 2;
        let produced_bytes = 9u32.wrapping_add(dropped_bytes);
        assert!(produced_bytes < dropped_bytes);
        let mut stream = TraceStream::default();
        stream.push(&Version::Go122.header()).unwrap();
        stream.push(&batch(1)).unwrap();
        stream
            .push(&end(2, produced_bytes, 1, dropped_bytes))
            .unwrap();
        assert!(stream.ended());
    }
}
