//! Assembling one generation: reading its batches (which are contiguous in the file), decoding
//! its tables (strings, stacks, CPU samples, frequency), and grouping its event batches by thread.
//!
//! Before Go 1.26 nothing marks the end of a generation: it ends where the first batch of the next
//! one begins. That batch has already been read when we notice, so it is "spilled" over into the
//! next generation, exactly as Go's reader does; at most one batch of the next generation is ever
//! held beyond the current one.

use std::io::Read;
use std::sync::Arc;

use gotrace_wire::{EventType, Version, MAX_EVENT_TRAILER_DATA_SIZE};

use crate::batch::{is_sync, read_batch, reserve_payload, Batch, EventBatch, NO_EXPERIMENT};
use crate::error::{Error, Location};
use crate::go_sort::sort_like_go;
use crate::id_map::{id_map, IdMap};
use crate::source::{SliceReader, Source, VarintError};
use crate::table::{check_frame_count, ClockSnapshot, Frame, Table};

/// Nanoseconds per clock tick, as Go computes it from a `Frequency` event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Frequency {
    factor: f64,
    /// The factor as `mantissa / 2^shift`, when it is a binary fraction that short (a 1 GHz
    /// clock: 1; Go's 15.625 MHz: 64; a 64 MHz microcontroller: 125 / 8; not 48 MHz's
    /// 20.833...): below `exact_below` ticks the float product is exact, so integers give the
    /// same nanoseconds (the float path and its range checks were 19 instructions of a device
    /// trace's event). One path for whole factors and fractions: a separate check for each,
    /// inline or not, measured slower on both kinds of trace.
    mantissa: u64,
    shift: u32,
    exact_below: u64,
}

/// Integers below this are exact in an `f64`.
const EXACT_F64: u64 = 1 << f64::MANTISSA_DIGITS;

impl Frequency {
    /// Go's `1.0 / (float64(f) / 1e9)`: the same two roundings, so the same nanoseconds.
    fn from_ticks_per_second(ticks: u64) -> Self {
        let factor = 1.0 / (ticks as f64 / 1e9);
        // Scaling by a power of two is exact in an f64, so the first whole scaled factor is
        // the factor's exact binary fraction.
        let fraction = (0..64u32).find_map(|shift| {
            let scaled = factor * (1u64 << shift) as f64;
            let whole = scaled >= 1.0 && scaled < EXACT_F64 as f64 && scaled.fract() == 0.0;
            whole.then_some((scaled as u64, shift))
        });
        let (mantissa, shift) = fraction.unwrap_or((0, 0));
        Frequency {
            factor,
            mantissa,
            shift,
            exact_below: EXACT_F64.checked_div(mantissa).unwrap_or(0),
        }
    }

    /// Ticks to nanoseconds: Go's `Time(float64(t) * float64(f))`.
    #[inline]
    pub(crate) fn mul(self, ticks: u64) -> i64 {
        if ticks < self.exact_below {
            // `ticks * mantissa` is below 2^53, so the float product is exactly
            // `ticks * mantissa / 2^shift`, and Go's truncation of it a shift.
            return ((ticks * self.mantissa) >> self.shift) as i64;
        }
        go_float_to_int64(ticks as f64 * self.factor)
    }
}

/// Go's float64 to int64 conversion as the amd64 instruction does it (where Go's oracle runs):
/// truncation, and `i64::MIN` for NaN and values out of range (Rust's `as` would saturate).
#[inline]
fn go_float_to_int64(x: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
                                                    // NaN is in no range.
    if (-LIMIT..LIMIT).contains(&x) {
        x as i64
    } else {
        i64::MIN
    }
}

/// A CPU profiling sample, its time already in nanoseconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CpuSample {
    pub m: i64,
    pub p: i64,
    pub g: i64,
    pub time: i64,
    pub stack: u64,
}

/// The event batches of one thread, in file order.
#[derive(Debug)]
pub(crate) struct ThreadBatches {
    pub m: i64,
    pub batches: Vec<EventBatch>,
}

/// One generation, ready to be merged and validated.
#[derive(Debug)]
pub(crate) struct Generation {
    pub gen: u64,
    /// In the order their first batch appears, as Go orders them.
    pub threads: Vec<ThreadBatches>,
    /// Sorted by time as Go sorts them.
    pub cpu_samples: Vec<CpuSample>,
    pub min_ts: u64,
    pub freq: Frequency,
    pub table: Arc<Table>,
    /// The payloads of the event batches, each batch a range of it.
    pub arena: Vec<u8>,
}

impl Generation {
    /// The batches of thread `index` (in `threads`' order); none for an index out of range.
    pub fn thread_batches(&self, index: usize) -> &[EventBatch] {
        self.threads
            .get(index)
            .map(|t| &t.batches[..])
            .unwrap_or_default()
    }
}

/// The first batch of the next generation, read while looking for the end of this one, with its
/// payload (taken out of this generation's arena).
#[derive(Debug)]
pub(crate) struct Spill {
    pub gen: u64,
    pub batch: Batch,
    pub data: Vec<u8>,
}

/// A generation as it is being read.
struct Builder {
    gen: u64,
    version: Version,
    threads: Vec<ThreadBatches>,
    thread_index: IdMap<i64, usize>,
    cpu_samples: Vec<(CpuSample, u64)>,
    min_ts: u64,
    freq: Option<Frequency>,
    /// From Go 1.25 on, each generation carries one snapshot of the trace, monotonic and wall
    /// clocks: (trace ticks, monotonic ns, wall seconds, wall nanoseconds).
    clock: Option<(u64, u64, u64, u64)>,
    table: Table,
    /// Each stacks batch, by where its payload starts in the file: a stack's frames are
    /// checked once the generation is read, and its error names the batch it came from.
    stack_batches: Vec<(u64, Location)>,
    /// The payloads of the batches read, the event batches' kept (see [`Builder::process`]).
    arena: Vec<u8>,
}

/// What reading a generation gave: the generation, the spilled first batch of the next one, and
/// an error met while reading that next batch (reported only after this generation's events).
pub(crate) struct ReadGeneration {
    pub generation: Generation,
    pub spill: Option<Spill>,
    pub next_error: Option<Error>,
}

/// Reads the next generation of a trace before Go 1.26, whose generations end implicitly. Its
/// payloads go to `arena` (emptied first; its room is reused).
pub(crate) fn read_generation_with_spill<R: Read>(
    source: &mut Source<R>,
    spill: Option<Spill>,
    version: Version,
    batch_count: &mut u64,
    arena: Vec<u8>,
) -> Result<ReadGeneration, Error> {
    let mut builder = Builder::new(version, arena);
    if let Some(Spill {
        gen,
        mut batch,
        data,
    }) = spill
    {
        builder.gen = gen;
        builder.min_ts = batch.time;
        let arena = &mut builder.arena;
        reserve_payload(arena, data.len());
        let start = arena.len();
        arena.extend_from_slice(&data);
        batch.data = start..arena.len();
        drop(data);
        builder.process(batch)?;
    }
    let mut next_spill = None;
    let mut next_error = None;
    loop {
        let (batch, gen) = match read_batch(source, *batch_count, &mut builder.arena) {
            Ok(Some(read)) => read,
            Ok(None) => break,
            Err(e) if builder.gen != 0 => {
                // Possibly a broken first batch of the next generation: this one may still be
                // complete, so it is delivered before the error.
                next_error = Some(e);
                break;
            }
            Err(e) => return Err(e),
        };
        *batch_count += 1;
        if gen == 0 {
            return Err(Error::new("invalid generation number 0").at(&batch.location(gen)));
        }
        if builder.gen == 0 {
            builder.gen = gen;
        }
        if gen == builder.gen.wrapping_add(1) {
            let data = builder.arena.split_off(batch.data.start);
            next_spill = Some(Spill { gen, batch, data });
            break;
        }
        if gen != builder.gen {
            return Err(Error::new("generations out of order").at(&batch.location(gen)));
        }
        if builder.min_ts == 0 || batch.time < builder.min_ts {
            builder.min_ts = batch.time;
        }
        builder.process(batch)?;
    }
    let generation = match builder.finish() {
        Ok(generation) => generation,
        // A generation left incomplete because the stream failed: Go's verdict on what was
        // read, caused by the failure, which the caller must be able to tell from a bad trace.
        Err(verdict) => {
            return Err(
                match next_error.as_mut().and_then(Error::take_stream_failure) {
                    Some(failure) => verdict.caused_by(failure),
                    None => verdict,
                },
            )
        }
    };
    Ok(ReadGeneration {
        generation,
        spill: next_spill,
        next_error,
    })
}

/// Reads the next generation of a Go 1.26 (or later) trace, which ends each generation with an
/// `EndOfGeneration` marker; `None` at the end of the trace. Its payloads go to `arena` (emptied
/// first; its room is reused).
pub(crate) fn read_generation<R: Read>(
    source: &mut Source<R>,
    version: Version,
    batch_count: &mut u64,
    arena: Vec<u8>,
) -> Result<Option<Generation>, Error> {
    let mut builder = Builder::new(version, arena);
    loop {
        let Some((batch, gen)) = read_batch(source, *batch_count, &mut builder.arena)? else {
            // Go only counts event batches here, not the tables.
            if !builder.threads.is_empty() {
                let unfinished = Location {
                    generation: Some(builder.gen),
                    ..Location::default()
                };
                return Err(
                    Error::new("incomplete generation found; trace likely truncated")
                        .at(&unfinished),
                );
            }
            return Ok(None);
        };
        *batch_count += 1;
        if builder.gen == 0 {
            builder.gen = gen;
        }
        if batch.first_type(&builder.arena) == Some(EventType::END_OF_GENERATION) {
            builder.arena.truncate(batch.data.start);
            break;
        }
        if gen == 0 {
            return Err(Error::new("invalid generation number 0").at(&batch.location(gen)));
        }
        if gen != builder.gen {
            return Err(Error::new(
                "broken trace: missing end-of-generation event, or generations are interleaved",
            )
            .at(&batch.location(gen)));
        }
        if builder.min_ts == 0 || batch.time < builder.min_ts {
            builder.min_ts = batch.time;
        }
        builder.process(batch)?;
    }
    builder.finish().map(Some)
}

impl Builder {
    fn new(version: Version, mut arena: Vec<u8>) -> Self {
        arena.clear();
        Builder {
            gen: 0,
            version,
            threads: Vec::new(),
            thread_index: id_map(),
            cpu_samples: Vec::new(),
            min_ts: 0,
            freq: None,
            clock: None,
            table: Table::default(),
            stack_batches: Vec::new(),
            arena,
        }
    }

    /// Takes in `batch`, the last one read, its payload at the end of the arena: an event
    /// batch's stays there for the merge, any other's is decoded (or skipped) and dropped.
    fn process(&mut self, batch: Batch) -> Result<(), Error> {
        let first = batch.first_type(&self.arena);
        let other = batch.exp != NO_EXPERIMENT
            || first.is_some_and(|typ| {
                matches!(
                    typ,
                    EventType::STRINGS
                        | EventType::STACKS
                        | EventType::CPU_SAMPLES
                        | EventType::END_OF_GENERATION
                ) || is_sync(typ, self.version)
            });
        if !other {
            let index = *self.thread_index.entry(batch.m).or_insert_with(|| {
                self.threads.push(ThreadBatches {
                    m: batch.m,
                    batches: Vec::new(),
                });
                self.threads.len() - 1
            });
            if let Some(thread) = self.threads.get_mut(index) {
                thread.batches.push(batch.into());
            }
            return Ok(());
        }
        let arena = std::mem::take(&mut self.arena);
        let processed = self.process_other(&batch, first, batch.payload(&arena));
        self.arena = arena;
        if batch.data.end == self.arena.len() {
            self.arena.truncate(batch.data.start);
        }
        processed
    }

    /// Decodes a batch that is no event batch, whose payload is `data` and its first event's
    /// type `first`.
    fn process_other(
        &mut self,
        batch: &Batch,
        first: Option<EventType>,
        data: &[u8],
    ) -> Result<(), Error> {
        // Where an error is, built only for one.
        let gen = self.gen;
        let at_entry = |pos: usize| Location {
            event_offset: Some(batch.data_offset + pos as u64),
            ..batch.location(gen)
        };
        match first {
            Some(EventType::STRINGS) => self
                .add_strings(data)
                .map_err(|(e, pos)| e.at(&at_entry(pos))),
            Some(EventType::STACKS) => {
                (self.stack_batches).push((batch.data_offset, batch.location(gen)));
                self.add_stacks(data, batch.data_offset)
                    .map_err(|(e, pos)| e.at(&at_entry(pos)))
            }
            Some(EventType::CPU_SAMPLES) => self
                .add_cpu_samples(data)
                .map_err(|(e, pos)| e.at(&at_entry(pos))),
            Some(typ) if is_sync(typ, self.version) => self
                .set_sync(batch.time, data)
                .map_err(|(e, pos)| e.at(&at_entry(pos))),
            // Experimental batches are handed to users by Go as raw data; no Go 1.22 event
            // refers to them, so we validate nothing in them and keep nothing.
            _ if batch.exp != NO_EXPERIMENT => Ok(()),
            _ => Err(Error::new(
                "internal error: unexpectedly processing EndOfGeneration; broken trace?",
            )
            .at(&batch.location(gen))),
        }
    }

    fn add_strings(&mut self, data: &[u8]) -> Result<(), (Error, usize)> {
        let mut r = SliceReader::new(data);
        r.read_byte(); // The Strings header.
        self.table.reserve_strings(data.len());
        while !r.is_empty() {
            let start = r.pos();
            let fail = |e: Error| (e, start);
            let typ = r.read_byte().unwrap_or_default();
            if EventType(typ) != EventType::STRING {
                return Err(fail(Error::new(format!(
                    "expected string event, got {typ}"
                ))));
            }
            let id = r.read_uvarint().map_err(|e| fail(varint_error(e)))?;
            let len = r.read_uvarint().map_err(|e| fail(varint_error(e)))?;
            if len > MAX_EVENT_TRAILER_DATA_SIZE {
                return Err(fail(Error::new(format!(
                    "invalid string size {len}, maximum is {MAX_EVENT_TRAILER_DATA_SIZE}"
                ))));
            }
            let bytes = r.read_up_to(len as usize);
            if bytes.len() as u64 != len {
                return Err(fail(Error::new(format!(
                    "failed to read full string: read {} but wanted {len}",
                    bytes.len()
                ))));
            }
            self.table.insert_string(id, bytes).map_err(fail)?;
        }
        Ok(())
    }

    /// Reads the stacks of a batch whose payload `data` starts at byte `data_offset` of the file.
    fn add_stacks(&mut self, data: &[u8], data_offset: u64) -> Result<(), (Error, usize)> {
        let mut r = SliceReader::new(data);
        r.read_byte(); // The Stacks header.
        self.table.reserve_stacks(data.len());
        while !r.is_empty() {
            let start = r.pos();
            let fail = |e: Error| (e, start);
            let typ = r.read_byte().unwrap_or_default();
            if EventType(typ) != EventType::STACK {
                return Err(fail(Error::new(format!("expected stack event, got {typ}"))));
            }
            let id = r.read_uvarint().map_err(|e| fail(varint_error(e)))?;
            let n = r.read_uvarint().map_err(|e| fail(varint_error(e)))?;
            let n = check_frame_count(n).map_err(fail)?;
            let frames_start = self.table.frames_len();
            for i in 1..=n {
                let mut fields = [0u64; 4];
                for (field, what) in fields.iter_mut().zip(["PC", "funcID", "fileID", "line"]) {
                    match r.read_uvarint() {
                        Ok(value) => *field = value,
                        Err(e) => return Err(fail(frame_error(i, what, id, &e))),
                    }
                }
                let [pc, func, file, line] = fields;
                self.table.push_frame(pc, Frame { func, file, line });
            }
            let offset = data_offset + start as u64;
            (self.table)
                .end_stack(id, frames_start, offset)
                .map_err(fail)?;
        }
        Ok(())
    }

    fn add_cpu_samples(&mut self, data: &[u8]) -> Result<(), (Error, usize)> {
        let mut r = SliceReader::new(data);
        r.read_byte(); // The CPUSamples header.
        while !r.is_empty() {
            let start = r.pos();
            let fail = |e: VarintError| (varint_error(e), start);
            let typ = r.read_byte().unwrap_or_default();
            if EventType(typ) != EventType::CPU_SAMPLE {
                return Err((
                    Error::new(format!("expected CPU sample event, got {typ}")),
                    start,
                ));
            }
            let ticks = r.read_uvarint().map_err(fail)?;
            let m = r.read_uvarint().map_err(fail)?;
            let p = r.read_uvarint().map_err(fail)?;
            let g = r.read_uvarint().map_err(fail)?;
            let stack = r.read_uvarint().map_err(fail)?;
            let sample = CpuSample {
                m: m as i64,
                p: p as i64,
                g: if g == 0 { -1 } else { g as i64 },
                time: 0,
                stack,
            };
            self.cpu_samples.push((sample, ticks));
        }
        Ok(())
    }

    /// Reads the clock data of a batch whose base time is `time` and payload `data`.
    fn set_sync(&mut self, time: u64, data: &[u8]) -> Result<(), (Error, usize)> {
        let mut r = SliceReader::new(data);
        if self.version >= Version::Go125 {
            r.read_byte(); // The Sync header.
        }
        while !r.is_empty() {
            let start = r.pos();
            let fail = |e: VarintError| (varint_error(e), start);
            let typ = r.read_byte().unwrap_or_default();
            match EventType(typ) {
                EventType::FREQUENCY => {
                    if self.freq.is_some() {
                        return Err((Error::new("found multiple frequency events"), start));
                    }
                    let ticks = r.read_uvarint().map_err(fail)?;
                    self.freq = Some(Frequency::from_ticks_per_second(ticks));
                }
                EventType::CLOCK_SNAPSHOT if self.version >= Version::Go125 => {
                    if self.clock.is_some() {
                        return Err((Error::new("found multiple clock snapshot events"), start));
                    }
                    let dt = r.read_uvarint().map_err(fail)?;
                    let mono = r.read_uvarint().map_err(fail)?;
                    let sec = r.read_uvarint().map_err(fail)?;
                    let nsec = r.read_uvarint().map_err(fail)?;
                    self.clock = Some((time.wrapping_add(dt), mono, sec, nsec));
                }
                _ => {
                    return Err((
                        Error::new(format!(
                            "expected frequency or clock snapshot event, got {typ}"
                        )),
                        start,
                    ))
                }
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Generation, Error> {
        // No batch read (a trace of a header alone), no generation to name: batches of
        // generation 0 are refused, so 0 is the builder's own start.
        let location = Location {
            generation: (self.gen != 0).then_some(self.gen),
            ..Location::default()
        };
        let freq = match self.freq {
            Some(freq) => freq,
            None => return Err(Error::new("no frequency event found").at(&location)),
        };
        if self.version >= Version::Go125 && self.clock.is_none() {
            return Err(Error::new("no clock snapshot event found").at(&location));
        }
        self.table.compact();
        if let Err(e) = self.table.validate_stack_strings(self.version) {
            // The stack's event offset is set: the last stacks batch starting before it holds it.
            let offset = e.location().event_offset.unwrap_or_default();
            let batch = (self.stack_batches.iter().rev())
                .find(|(data_offset, _)| *data_offset <= offset)
                .map(|(_, batch)| batch);
            return Err(e.at(batch.unwrap_or(&location)));
        }
        self.table.clock = self.clock.map(|(ticks, mono, sec, nsec)| ClockSnapshot {
            trace: freq.mul(ticks),
            mono,
            wall_sec: sec as i64,
            wall_nsec: nsec as i64,
        });
        let mut cpu_samples: Vec<CpuSample> = self
            .cpu_samples
            .into_iter()
            .map(|(sample, ticks)| CpuSample {
                time: freq.mul(ticks),
                ..sample
            })
            .collect();
        sort_like_go(&mut cpu_samples, |a, b| a.time < b.time);
        Ok(Generation {
            gen: self.gen,
            threads: self.threads,
            cpu_samples,
            min_ts: self.min_ts,
            freq,
            table: Arc::new(self.table),
            arena: self.arena,
        })
    }
}

/// Go's message for a frame field of a stack entry that cannot be read.
#[cold]
fn frame_error(frame: usize, what: &str, stack: u64, e: &VarintError) -> Error {
    Error::new(format!(
        "reading frame {frame}'s {what} for stack {stack}: {}",
        e.go_text()
    ))
}

fn varint_error(e: VarintError) -> Error {
    match e {
        VarintError::Io(io) => Error::io(io.to_string(), io),
        other => Error::new(other.go_text()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequency_matches_gos_float_arithmetic() {
        // 15.625 MHz: exactly 64 ns per tick.
        let f = Frequency::from_ticks_per_second(15_625_000);
        assert_eq!(f.mul(3), 192);
        // 1 GHz: the factor is exactly 1.
        assert_eq!(
            Frequency::from_ticks_per_second(1_000_000_000).mul(12345),
            12345
        );
        // A rate whose factor is inexact: 1/(3e9/1e9) = 0.333..., truncated per tick count.
        let third = Frequency::from_ticks_per_second(3_000_000_000);
        assert_eq!(third.mul(3), 1);
        assert_eq!(third.mul(2), 0);
        // Integer factors take the integer path below 2^53 and the float one above.
        let unit = Frequency::from_ticks_per_second(1_000_000_000);
        for ticks in [0, 1, (1 << 53) - 1, 1 << 53, (1 << 53) + 1, u64::MAX] {
            assert_eq!(unit.mul(ticks), go_float_to_int64(ticks as f64), "{ticks}");
            assert_eq!(
                f.mul(ticks),
                go_float_to_int64(ticks as f64 * 64.0),
                "{ticks}"
            );
        }
        assert_eq!(f.exact_below, (1 << 53) / 64);
        // Every float is a binary fraction, but 1/3's takes 53 bits: exact for 0 ticks only.
        assert_eq!(third.exact_below, 1);
        // Short binary fractions (64 MHz: 15.625 ns; 80 MHz: 12.5 ns; 2 GHz: 0.5 ns) take the
        // integer path below their limit, with the same truncation as the float product.
        for (rate, mantissa, shift) in [
            (64_000_000, 125, 3),
            (80_000_000, 25, 1),
            (2_000_000_000, 1, 1),
        ] {
            let f = Frequency::from_ticks_per_second(rate);
            assert_eq!((f.mantissa, f.shift), (mantissa, shift), "{rate} Hz");
            let limit = f.exact_below;
            let edges = [
                0,
                1,
                7,
                8,
                9,
                1_000_003,
                limit - 1,
                limit,
                limit + 1,
                u64::MAX,
            ];
            let spread = (0..2000).map(|i| i * 7919 + 13);
            let below_limit = (1..2000).map(|i| limit / i);
            for ticks in edges.into_iter().chain(spread).chain(below_limit) {
                let float = go_float_to_int64(ticks as f64 * f.factor);
                assert_eq!(f.mul(ticks), float, "{rate} Hz, {ticks} ticks");
            }
        }
        // Nor are 48 MHz's 20.833... ns, or 32768 Hz's (1e9 / 32768 is exact, but Go's two
        // roundings make it 30517.578124999996) short ones.
        assert_eq!(Frequency::from_ticks_per_second(48_000_000).exact_below, 1);
        assert_eq!(Frequency::from_ticks_per_second(32_768).exact_below, 1);
        // Zero ticks per second gives an infinite factor; Go's conversion yields i64::MIN.
        let zero = Frequency::from_ticks_per_second(0);
        assert_eq!(zero.mul(1), i64::MIN);
        assert_eq!(zero.mul(0), i64::MIN);
    }

    /// The integer path's claim over every kind of rate, not just the device ones: below
    /// `exact_below`, `ticks * mantissa` is under 2^53, so the float product is exact and its
    /// truncation a shift. Rates from 1 Hz (a factor of 1e9) to `u64::MAX` (a factor near
    /// 2^-34, whose fraction is too long for any shift), whole and fractional factors, shifts
    /// up to 63.
    #[test]
    fn integer_path_matches_the_float_product_at_every_rate() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state
        };
        let mut rates: Vec<u64> = (1..=3000).collect();
        rates.extend((0..64).flat_map(|k| [1 << k, (1 << k) - 1, (1u64 << k) + 1]));
        for twos in 0..64 {
            for fives in 0..28 {
                let rate = 5u64
                    .checked_pow(fives)
                    .and_then(|r| r.checked_mul(1 << twos));
                rates.extend(rate.into_iter().flat_map(|r| [r, r.saturating_mul(3)]));
            }
        }
        rates.push(u64::MAX);
        rates.extend((0..5000).map(|_| next() >> (next() % 64)));
        let (mut whole, mut fractions, mut longest_shift) = (0, 0, 0);
        for rate in rates {
            let f = Frequency::from_ticks_per_second(rate);
            let limit = f.exact_below;
            if limit > 1 {
                if f.shift == 0 {
                    whole += 1;
                } else {
                    fractions += 1;
                }
                longest_shift = longest_shift.max(f.shift);
            }
            let edges = [0, 1, 2, limit.saturating_sub(1), limit, limit + 1, u64::MAX];
            let below: Vec<u64> = (0..40).map(|_| next() % limit.max(1)).collect();
            let anywhere: Vec<u64> = (0..20).map(|_| next() >> (next() % 64)).collect();
            for ticks in edges.into_iter().chain(below).chain(anywhere) {
                let float = go_float_to_int64(ticks as f64 * f.factor);
                assert_eq!(f.mul(ticks), float, "{rate} Hz, {ticks} ticks");
            }
        }
        // The sweep went through the integer path with both kinds of factor and every shift.
        assert!(
            whole > 20 && fractions > 100,
            "{whole} whole, {fractions} fractions"
        );
        assert_eq!(longest_shift, 63);
        assert_eq!(Frequency::from_ticks_per_second(u64::MAX).exact_below, 0);
    }
}
