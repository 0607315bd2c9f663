//! The validating reader: a trace in, Go's validated event stream out, one event at a time.
//!
//! Per generation: read and assemble it ([`crate::generation`]), then merge its threads
//! ([`crate::batch_cursor`]) through the ordering rules ([`crate::order`]), injecting CPU samples
//! by time, with a Sync event at each generation boundary and at the end, exactly as Go's
//! `Reader.ReadEvent` does. Memory holds one generation (plus the first batch of the next).

use std::fmt;
use std::io::Read;

use gotrace_wire::Version;

use crate::batch::EventBatch;
use crate::batch_cursor::{
    heap_insert, heap_remove, heap_update, sift_root, sort_frontier, Cursor, Frontier,
};
use crate::error::{Error, Location};
use crate::event::{type_table, ArgCounts, BaseEvent, Event, SchedCtx, Time};
use crate::generation::{read_generation, read_generation_with_spill, Generation, Spill};
use crate::order::Ordering;
use crate::ready::{Ready, TableIds};
use crate::source::Source;

/// Reads a Go execution trace (binary form) and yields its validated events in Go's order.
pub struct Reader<R: Read> {
    version: Version,
    source: Source<R>,
    /// Batches read so far, to number them in errors.
    batch_count: u64,
    gen: Option<Generation>,
    frontier: Frontier,
    /// Next CPU sample of the generation to emit.
    next_sample: usize,
    order: Ordering,
    syncs: u64,
    done: bool,
    /// The first batch of the next generation, already read.
    spill: Option<Spill>,
    /// An error met while reading the next generation, reported after a Sync event.
    spill_err: Option<Error>,
    spill_err_sync: bool,
    /// The event handed out last, overwritten in place by the next one: handing out a
    /// reference costs no copy and no reference count of the generation's table.
    current: Event,
    /// Events validated ahead of the caller.
    ready: Ready,
    /// Each type's argument count ([`crate::event::TypeTable::timed_args`]), held here rather
    /// than referred to: the decoder looks a count up at every event, and a reference to the
    /// table was one more load (from the stack, where the merge's loop keeps it) before that
    /// look-up.
    timed_args: ArgCounts,
}

/// Where the reader is, not what it holds (a generation's tables and events); any stream.
impl<R: Read> fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("version", &self.version)
            .field("bytes_read", &self.source.offset())
            .field("batches_read", &self.batch_count)
            .field("syncs", &self.syncs)
            .finish_non_exhaustive()
    }
}

impl<R: Read> Reader<R> {
    /// Starts reading a trace: reads and checks the header.
    pub fn new(r: R) -> Result<Self, Error> {
        let mut source = Source::new(r);
        let version = read_header(&mut source)?;
        Ok(Reader {
            version,
            source,
            batch_count: 0,
            gen: None,
            frontier: Vec::new(),
            next_sample: 0,
            order: Ordering::new(version),
            syncs: 0,
            done: false,
            spill: None,
            spill_err: None,
            spill_err_sync: false,
            current: Event::sync(None, 0, 0),
            ready: Ready::new(),
            timed_args: type_table().timed_args,
        })
    }

    /// The format version the header names.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The stream read from: an [`Input`](crate::input::Input), to explain an error with.
    pub fn get_ref(&self) -> &R {
        self.source.get_ref()
    }

    /// The stream read from, to [`finish`](crate::input::Input::finish) an input with.
    pub fn get_mut(&mut self) -> &mut R {
        self.source.get_mut()
    }

    /// The next event; `None` after the final Sync event. After an error the reader is spent
    /// and returns `None`.
    pub fn read_event(&mut self) -> Result<Option<Event>, Error> {
        Ok(self.read_event_ref()?.cloned())
    }

    /// Like [`Reader::read_event`], but lends the event instead of handing out a copy of it:
    /// the cheapest way through a trace (what `gotrace validate` does). The event is valid
    /// until the next call.
    #[inline]
    pub fn read_event_ref(&mut self) -> Result<Option<&Event>, Error> {
        loop {
            if !self.ready.is_drained() {
                return Ok(self.deliver_ready());
            }
            if self.done {
                return Ok(None);
            }
            if let Some(error) = self.ready.error.take() {
                return self.fail(error);
            }
            let events_left = self.gen.as_ref().is_some_and(|g| {
                !self.frontier.is_empty() || self.next_sample < g.cpu_samples.len()
            });
            if events_left {
                self.fill();
                continue;
            }
            return match self.next_generation() {
                Ok(()) => Ok(Some(self.deliver())),
                Err(error) => self.fail(error),
            };
        }
    }

    /// Hands out the current event (a Sync, after the events validated before it), its time
    /// made later than the last one's.
    #[inline]
    fn deliver(&mut self) -> &Event {
        self.current.base.time = self.ready.later_time(self.current.base.time);
        &self.current
    }

    /// Hands out the next event validated ahead (its time already made later than the last
    /// one's, as it was validated).
    #[inline(always)]
    fn deliver_ready(&mut self) -> Option<&Event> {
        self.ready.take_next()
    }

    /// Ends the trace with `error`. A failure of the stream met while reading ahead (the next
    /// generation's first batch), held for after this generation's events, becomes its cause:
    /// Go forgets it when the generation read before it fails (a generation cut short by it may
    /// well fail to advance), and the caller would take a broken stream for a broken trace.
    #[cold]
    fn fail(&mut self, error: Error) -> Result<Option<&Event>, Error> {
        self.done = true;
        let held = self.spill_err.take();
        // Go returns such an error as `io.EOF`, which ends the trace for every caller of its
        // reader (`go tool trace` included): the trace is accepted as it stands, unless the
        // stream had failed, which is then the error.
        if error.is_bare_eof() {
            return match held {
                Some(held) if held.has_stream_failure() => Err(held),
                _ => Ok(None),
            };
        }
        match held.and_then(|mut held| held.take_stream_failure()) {
            Some(failure) if !error.has_stream_failure() => Err(error.caused_by(failure)),
            _ => Err(error),
        }
    }

    /// Validates the current generation's next events, as many as [`Ready`] holds: the merge of
    /// its threads through the ordering, with its CPU samples by time, every event checked
    /// against the generation's tables. An error is kept for after the events before it.
    fn fill(&mut self) {
        let version = self.version;
        let Reader {
            gen,
            frontier,
            order,
            next_sample,
            ready,
            timed_args,
            ..
        } = self;
        let arg_counts = &*timed_args;
        let Some(gen) = gen.as_ref() else {
            return;
        };
        ready.clear();
        while ready.has_room() {
            if let Some(sample) = gen.cpu_samples.get(*next_sample) {
                if frontier.first().is_none_or(|e| sample.time < e.time) {
                    *next_sample += 1;
                    let mut base = BaseEvent {
                        typ: gotrace_wire::EventType::CPU_SAMPLE,
                        time: sample.time,
                        args: [0; 4],
                    };
                    base.args[0] = sample.stack;
                    ready.push(
                        sample.g,
                        sample.p,
                        sample.m,
                        &base,
                        &gen.table,
                        TableIds::OfType,
                    );
                    if let Err(error) = ready.take_failure(gen, version) {
                        ready.error = Some(error);
                        return;
                    }
                    continue;
                }
            }
            if frontier.is_empty() {
                return;
            }
            let sample_time = gen
                .cpu_samples
                .get(*next_sample)
                .map_or(Time::MAX, |s| s.time);
            let ran = run_earliest(
                gen,
                frontier,
                order,
                version,
                arg_counts,
                ready,
                sample_time,
            );
            let advanced = match ran {
                Ok(true) => continue,
                // The earliest thread waits for another: try the others in time order.
                Ok(false) => advance_other(gen, frontier, order, version, arg_counts, ready),
                Err(error) => Err(error),
            };
            if let Err(error) = advanced.and_then(|()| ready.take_failure(gen, version)) {
                ready.error = Some(error);
                return;
            }
        }
    }

    /// At the end of a generation: the Sync event of the next one, the final Sync, or the
    /// Sync that precedes a pending error (Go's order of things).
    fn next_generation(&mut self) -> Result<(), Error> {
        if let Some(error) = self.spill_err.take() {
            if self.spill_err_sync {
                return Err(error);
            }
            self.spill_err = Some(error);
            self.spill_err_sync = true;
            self.sync_at_end();
            return Ok(());
        }
        if let Some(gen) = &self.gen {
            self.order.end_generation(&gen.table);
        }
        // The finished generation's tables go before the next is read, so that only one
        // generation is in memory at a time.
        self.current.table = None;
        self.ready.set_table(None);
        if self.version >= Version::Go126 {
            // The finished generation goes before the next is read, so that only one is in
            // memory at a time (events keep its tables alive, not its batches); the room of
            // its arena of payloads takes the next one's.
            let arena = self.gen.take().map(|g| g.arena).unwrap_or_default();
            // Generations end explicitly; an error is reported after a Sync.
            let read =
                read_generation(&mut self.source, self.version, &mut self.batch_count, arena);
            return match read {
                Ok(Some(generation)) => self.install(generation),
                Ok(None) => {
                    self.gen = None;
                    self.done = true;
                    self.sync_at_end();
                    Ok(())
                }
                Err(error) => {
                    self.sync_before(error);
                    Ok(())
                }
            };
        }
        if self.gen.is_some() && self.spill.is_none() {
            self.done = true;
            self.sync_at_end();
            return Ok(());
        }
        let arena = self.gen.take().map(|g| g.arena).unwrap_or_default();
        let read = read_generation_with_spill(
            &mut self.source,
            self.spill.take(),
            self.version,
            &mut self.batch_count,
            arena,
        );
        match read {
            Err(error) => {
                self.sync_before(error);
                Ok(())
            }
            Ok(read) => {
                self.spill = read.spill;
                self.spill_err = read.next_error;
                self.install(read.generation)
            }
        }
    }

    /// Makes the final Sync event current, with `error` to follow it (Go's order of things).
    fn sync_before(&mut self, error: Error) {
        self.gen = None;
        self.spill_err = Some(error);
        self.spill_err_sync = true;
        self.sync_at_end();
    }

    /// Makes the Sync event at the end of the trace (or before an error) current.
    fn sync_at_end(&mut self) {
        self.syncs += 1;
        self.current = Event::sync(None, self.ready.last_time(), self.syncs);
    }

    /// Makes `gen` current: one cursor per thread, and its Sync event.
    fn install(&mut self, gen: Generation) -> Result<(), Error> {
        self.next_sample = 0;
        self.frontier.clear();
        self.frontier.reserve(gen.threads.len());
        self.order.reserve_threads(gen.threads.len());
        for (index, thread) in gen.threads.iter().enumerate() {
            let slot = self.order.thread_slot(thread.m);
            let mut cursor = Cursor::new(index, thread.m, slot);
            let location = Location {
                generation: Some(gen.gen),
                ..Location::default()
            };
            if cursor
                .next_event(&thread.batches, &gen.arena, gen.freq, &self.timed_args)
                .map_err(|e| e.at(&location))?
            {
                heap_insert(&mut self.frontier, cursor);
            }
        }
        if !self.frontier.is_empty() {
            self.order.start_events_of(gen.gen);
        }
        self.syncs += 1;
        self.ready.set_table(Some(&gen.table));
        self.current = Event::sync(
            Some(std::sync::Arc::clone(&gen.table)),
            gen.freq.mul(gen.min_ts),
            self.syncs,
        );
        self.gen = Some(gen);
        Ok(())
    }
}

/// Each event as [`Reader::read_event`] gives it (a copy), then `None`: after the final Sync
/// event, or after an error, which ends the trace.
impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Event, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read_event().transpose()
    }
}

/// Runs the earliest thread for as long as Go's merge would keep picking it: while its next
/// event is no later than the other threads' (Go's heap keeps its root unless a child is strictly
/// earlier) and than the next CPU sample (`sample_time`), and `ready` has room. This is Go's
/// order exactly, without the heap's work per event: a thread's events mostly come in runs.
/// Returns `false` if the earliest thread's event must wait for another thread's.
///
/// Each validated event is checked against the tables as it is appended; after an error,
/// `ready` holds the events before it.
#[inline(always)]
fn run_earliest(
    gen: &Generation,
    frontier: &mut Frontier,
    order: &mut Ordering,
    version: Version,
    arg_counts: &ArgCounts,
    ready: &mut Ready,
    sample_time: Time,
) -> Result<bool, Error> {
    let Some((root, others)) = frontier.split_first_mut() else {
        return Ok(true);
    };
    // Other threads cannot move while this one runs, so neither can the limit.
    let time_of = |i: usize| others.get(i).map_or(Time::MAX, |e| e.time);
    // Nor can the root's earlier child (the left one on a tie), which Go's sift would compare
    // its way to after the run: chosen here, where the comparison is needed anyway, without a
    // branch, rather than by a branch after it that mispredicts as often as threads alternate.
    let (left, right) = (time_of(0), time_of(1));
    let (child, child_time) = if right < left { (2, right) } else { (1, left) };
    let limit = sample_time.min(child_time);
    let cursor = &mut *root.cursor;
    let batches = gen.thread_batches(cursor.thread);
    let mut cur = thread_ctx(gen, cursor, batches, order, version)?;
    let more = loop {
        let step = step_cursor(
            gen, cursor, &mut cur, batches, order, version, arg_counts, ready,
        );
        let more = match step {
            Stepped::More => true,
            Stepped::Last => false,
            Stepped::Waits => {
                // Waits for another thread; the steps before left the heap in order, once the
                // entry has its time (set here only: see `batch_cursor`'s sifts). With `ready`
                // full, the next fill tries again.
                root.time = cursor.ev.time;
                return Ok(!ready.has_room());
            }
            Stepped::Failed => return Err(ready.error.take().unwrap_or_else(lost_failure)),
        };
        // A table check failure leaves no room, so the run ends at the step that failed it.
        if !more || cursor.ev.time > limit || !ready.has_room() {
            break more;
        }
    };
    ready.take_failure(gen, version)?;
    if more {
        let time = cursor.ev.time;
        sift_root(frontier, time, child, child_time);
    } else {
        heap_remove(frontier, 0);
    }
    Ok(true)
}

/// After the earliest thread's event could not happen: lets the first other thread in time order
/// that can advance do so (Go's order), appending what it validates to `out`, else Go's "failed
/// to advance" error.
#[inline(always)]
fn advance_other(
    gen: &Generation,
    frontier: &mut Frontier,
    order: &mut Ordering,
    version: Version,
    arg_counts: &ArgCounts,
    out: &mut Ready,
) -> Result<(), Error> {
    sort_frontier(frontier);
    for i in 1..frontier.len() {
        if try_advance(gen, frontier, order, i, version, arg_counts, out)? {
            return Ok(());
        }
    }
    Err(failed_to_advance(gen, frontier, order, version))
}

#[cold]
fn failed_to_advance(
    gen: &Generation,
    frontier: &Frontier,
    order: &Ordering,
    version: Version,
) -> Error {
    let dump: String = frontier.iter().map(|e| e.cursor.dump()).collect();
    let location = frontier
        .first()
        .map(|e| &e.cursor)
        .map(|c| c.location(gen.thread_batches(c.thread), &gen.arena, gen.gen, version))
        .unwrap_or_default();
    Error::new(format!(
        "broken trace: failed to advance: frontier:\n[gen={}]\n\n{dump}\n{}\n",
        gen.gen,
        order.dump()
    ))
    .at(&location)
}

/// Lets the `i`th cursor's event happen if the ordering allows, appending what it validates to
/// `out`, then moves the cursor on and restores the heap; `false` if the event must wait.
fn try_advance(
    gen: &Generation,
    frontier: &mut Frontier,
    order: &mut Ordering,
    i: usize,
    version: Version,
    arg_counts: &ArgCounts,
    out: &mut Ready,
) -> Result<bool, Error> {
    let Some(cursor) = frontier.get_mut(i).map(|e| &mut e.cursor) else {
        return Ok(false);
    };
    let batches = gen.thread_batches(cursor.thread);
    let mut cur = thread_ctx(gen, cursor, batches, order, version)?;
    match step_cursor(
        gen, cursor, &mut cur, batches, order, version, arg_counts, out,
    ) {
        Stepped::Waits => return Ok(false),
        Stepped::More => heap_update(frontier, i),
        Stepped::Last => heap_remove(frontier, i),
        Stepped::Failed => return Err(out.error.take().unwrap_or_else(lost_failure)),
    }
    Ok(true)
}

/// The context of the cursor's thread before its next event (see [`Ordering::thread_ctx`]).
#[inline(always)]
fn thread_ctx(
    gen: &Generation,
    cursor: &Cursor,
    batches: &[EventBatch],
    order: &mut Ordering,
    version: Version,
) -> Result<SchedCtx, Error> {
    order
        .thread_ctx(cursor.m, cursor.slot)
        .map_err(|error| error.at(&cursor.location(batches, &gen.arena, gen.gen, version)))
}

/// What a step of a cursor did (see [`step_cursor`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stepped {
    /// The event must wait for another thread's.
    Waits,
    /// The event happened and the thread has more.
    More,
    /// The event happened and was the thread's last.
    Last,
    /// The step failed: its error is in the buffer's `error`, for the caller to take.
    Failed,
}

/// Lets the cursor's event happen if the ordering allows, in its thread's context `cur` (updated
/// by the event), appending what it validates to `out`, then reads the cursor's next event.
/// After an error, kept in `out.error` for the caller to take, `out` is as it was (whatever the
/// failed step validated goes with it, as in Go).
///
/// The error goes there, not in a `Result` beside the outcome: the merge loop built that
/// result's outcome byte into the word of the error's fields and took it apart again at every
/// event (a dozen instructions of moves, masks and spills).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn step_cursor(
    gen: &Generation,
    cursor: &mut Cursor,
    cur: &mut SchedCtx,
    batches: &[EventBatch],
    order: &mut Ordering,
    version: Version,
    arg_counts: &ArgCounts,
    out: &mut Ready,
) -> Stepped {
    let before = out.len();
    let advanced = order.advance(&mut cursor.ev, &gen.table, cur, cursor.slot, gen.gen, out);
    let advanced = match advanced {
        Ok(advanced) => advanced,
        Err(error) => {
            out.truncate(before);
            out.error = Some(error.at(&cursor.location(batches, &gen.arena, gen.gen, version)));
            return Stepped::Failed;
        }
    };
    if !advanced {
        return Stepped::Waits;
    }
    match cursor.next_event(batches, &gen.arena, gen.freq, arg_counts) {
        Ok(true) => Stepped::More,
        Ok(false) => Stepped::Last,
        Err(error) => {
            out.truncate(before);
            out.error = Some(error.at(&Location {
                generation: Some(gen.gen),
                ..Location::default()
            }));
            Stepped::Failed
        }
    }
}

/// The error of a step said to have failed without one (not expected).
#[cold]
fn lost_failure() -> Error {
    Error::new("internal error: a failed step of the merge left no error")
}

/// Reads the header `go 1.N trace\0\0\0` the way Go's `fmt.Fscanf` reads it, and checks that
/// this reader handles version N.
fn read_header<R: Read>(source: &mut Source<R>) -> Result<Version, Error> {
    const NOT_A_TRACE: &str = "bad file format: not a Go execution trace?";
    // Go's `fmt.Fscanf` fails the header on a failing stream as on a wrong byte: its message,
    // with the stream's failure as the source.
    let minor = crate::header::read_minor(|| {
        source
            .read_byte()
            .map_err(|failure| Error::new(NOT_A_TRACE).caused_by(failure))
    })?
    .ok_or_else(|| Error::new(NOT_A_TRACE))?;
    match Version::from_minor(minor) {
        Some(version) => Ok(version),
        None if Version::is_older_format(minor) => Err(Error::of_older_format(minor)),
        None => Err(Error::new(format!(
            "unknown or unsupported trace version go 1.{minor}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(bytes: &[u8]) -> Result<Version, String> {
        read_header(&mut Source::new(bytes)).map_err(|e| e.go_message())
    }

    #[test]
    fn reads_headers_like_go() {
        assert_eq!(header(b"go 1.22 trace\0\0\0"), Ok(Version::Go122));
        assert_eq!(header(b"go 1.23 trace\0\0\0"), Ok(Version::Go123));
        assert_eq!(
            header(b"go 1.24 trace\0\0\0"),
            Err("unknown or unsupported trace version go 1.24".into())
        );
        assert_eq!(
            header(b"go 1.22 trace\0\0"),
            Err("bad file format: not a Go execution trace?".into())
        );
        assert_eq!(header(b"go 1.022\t trace\0\0\0"), Ok(Version::Go122));
        assert!(header(b"go 1.22trace\0\0\0").is_err());
        assert_eq!(
            header(b"Trace Go1.22\n"),
            Err("bad file format: not a Go execution trace?".into())
        );
    }

    #[test]
    fn the_formats_before_go_1_22_are_not_judged() {
        let older = |bytes: &[u8]| read_header(&mut Source::new(bytes)).err()?.older_format();
        for minor in [11, 19, 21] {
            assert_eq!(
                older(format!("go 1.{minor} trace\0\0\0").as_bytes()),
                Some(minor)
            );
        }
        // Versions Go has never written, and bad headers, are errors of the trace.
        assert_eq!(older(b"go 1.20 trace\0\0\0"), None);
        assert_eq!(older(b"go 1.24 trace\0\0\0"), None);
        assert_eq!(older(b"go 1.21 trace\0\0"), None);
    }

    #[test]
    fn an_empty_trace_gives_a_sync_then_gos_error() {
        let mut reader = Reader::new(&b"go 1.22 trace\0\0\0"[..]).unwrap();
        let sync = reader.read_event().unwrap().unwrap();
        assert_eq!(sync.to_string(), "M=-1 P=-1 G=-1 Sync Time=1 N=1");
        let error = reader.read_event().unwrap_err();
        assert_eq!(error.go_message(), "no frequency event found");
        // Not "(generation 0)", a generation the trace does not have.
        assert_eq!(error.to_string(), "no frequency event found");
        assert!(reader.read_event().unwrap().is_none());
    }

    #[test]
    fn a_string_entry_cut_at_its_batch_end_ends_the_trace_as_in_go() {
        // Go's reader reports this as a bare io.EOF, which every caller takes for the end.
        let mut trace = b"go 1.22 trace\0\0\0\x01\x01".to_vec();
        trace.extend([0xff; 9]);
        trace.extend([0x01, 0x00, 0x02, 0x04, 0x05]);
        let mut reader = Reader::new(&trace[..]).unwrap();
        let sync = reader.read_event().unwrap().unwrap();
        assert_eq!(sync.to_string(), "M=-1 P=-1 G=-1 Sync Time=1 N=1");
        assert!(reader.read_event().unwrap().is_none());
    }
}
