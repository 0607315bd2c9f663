//! The cross-thread merge: one cursor per thread over that thread's batches of the generation,
//! and a min-heap of cursors by the time of their next event (the "frontier").
//!
//! The heap operations are Go's own, step for step: when two threads' next events have the same
//! time, which one Go tries first depends on the exact layout of its heap, and with it the order
//! of the events Go prints. Matching `go tool trace -d=parsed` byte for byte requires the same
//! layout.

use gotrace_wire::{varint, EventType, Version};

use crate::batch::EventBatch;
use crate::error::{Error, Location};
use crate::event::{wire_spec, ArgCounts, BaseEvent, Time, PARSER_SPECS, UNTIMED};
use crate::generation::{Frequency, Generation};
use crate::go_sort::sort_like_go;
use crate::raw;

/// A thread's position in its batches of the current generation.
///
/// The position is in the generation's arena of payloads, with the end of the current batch: an
/// event is read from the arena at `pos` without a look at the batch's record, which is read
/// only where a batch begins (a device's trace has one every 40 events or so).
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    /// Index of the thread in the generation's thread list.
    pub thread: usize,
    pub m: i64,
    /// The slot of the thread's state in the ordering.
    pub slot: usize,
    last_ts: Time,
    /// The current batch's base time, in the trace's clock units.
    base: u64,
    /// The current batch: the one `pos..end` is the rest of (`usize::MAX` before the first).
    idx: usize,
    /// Next byte in the arena, and the end of the current batch's payload there.
    pos: usize,
    end: usize,
    /// The thread's next event, read but not yet advanced.
    pub ev: BaseEvent,
    /// Where `ev` is, for errors: its batch, its position in the arena and its raw delta.
    ev_batch: usize,
    ev_pos: usize,
    ev_dt: u64,
}

impl Cursor {
    pub(crate) fn new(thread: usize, m: i64, slot: usize) -> Self {
        Cursor {
            thread,
            m,
            slot,
            last_ts: 0,
            base: 0,
            idx: usize::MAX,
            pos: 0,
            end: 0,
            ev: BaseEvent::default(),
            ev_batch: 0,
            ev_pos: 0,
            ev_dt: 0,
        }
    }

    /// Reads the thread's next event into `ev` from `arena`, where `batches`' payloads are;
    /// `false` when its batches are exhausted.
    #[inline(always)]
    pub(crate) fn next_event(
        &mut self,
        batches: &[EventBatch],
        arena: &[u8],
        freq: Frequency,
        arg_counts: &ArgCounts,
    ) -> Result<bool, Error> {
        if self.pos >= self.end && !self.next_batch(batches) {
            return Ok(false);
        }
        // A branch that never goes, rather than an empty slice made by conditional moves (four
        // more instructions at every event).
        let Some(data) = arena.get(self.pos..self.end) else {
            return Err(self.read_error(batches, "internal error: batch out of its arena".into()));
        };
        if self.last_ts == 0 {
            // At a batch's start, and (as in Go) wherever the time came to 0.
            self.last_ts = freq.mul(self.base);
        }
        let (n, dt) = match read_timed_event(data, &mut self.ev, arg_counts) {
            Ok(read) => read,
            Err(failure) => return Err(self.read_error(batches, failure.message())),
        };
        self.ev.time = freq.mul(dt).wrapping_add(self.last_ts);
        self.last_ts = self.ev.time;
        self.ev_batch = self.idx;
        self.ev_pos = self.pos;
        self.ev_dt = dt;
        self.pos += n;
        Ok(true)
    }

    /// Moves on to the next batch that has bytes (empty batches are tolerated, as in Go);
    /// `false` when there is none.
    #[inline(always)]
    fn next_batch(&mut self, batches: &[EventBatch]) -> bool {
        loop {
            let next = self.idx.wrapping_add(1);
            let Some(batch) = batches.get(next) else {
                return false;
            };
            self.idx = next;
            self.pos = batch.start;
            self.end = batch.end;
            self.base = batch.time;
            self.last_ts = 0;
            if batch.start < batch.end {
                return true;
            }
        }
    }

    #[cold]
    fn read_error(&self, batches: &[EventBatch], message: String) -> Error {
        let mut location = Location {
            thread: Some(self.m),
            ..Location::default()
        };
        if let Some(batch) = batches.get(self.idx) {
            location.batch = Some(batch.index);
            location.batch_offset = Some(batch.offset);
            location.event_offset = Some(batch.file_offset(self.pos));
        }
        Error::new(message).at(&location)
    }

    /// Where the cursor's current event is, for an error about it; `arena` holds the payloads
    /// of `batches`.
    pub(crate) fn location(
        &self,
        batches: &[EventBatch],
        arena: &[u8],
        gen: u64,
        version: Version,
    ) -> Location {
        let mut location = Location {
            generation: Some(gen),
            thread: Some(self.m),
            ..Location::default()
        };
        if let Some(batch) = batches.get(self.ev_batch) {
            location.batch = Some(batch.index);
            location.batch_offset = Some(batch.offset);
            // (Before its first event a cursor is at its first batch's start.)
            let pos = self.ev_pos.max(batch.start);
            location.event_offset = Some(batch.file_offset(pos));
            // Read again from the bytes: the ordering may have changed `ev`'s arguments in place
            // before it failed (a parent task 0 made `NO_TASK`, a status given its old one), and
            // the event named must be the one at the offset named.
            location.event = arena
                .get(pos..batch.end)
                .and_then(|data| raw_text_at(data, version));
        }
        if location.event.is_none() {
            location.event = Some(raw_text(&self.ev, self.ev_dt, version));
        }
        location
    }

    /// Where the first event in `gen` that `matches` accepts is: in the batches of thread `m`,
    /// the thread whose context the event was validated in, else in those of the others (an
    /// event can be validated in another thread's context: the status of a goroutine in a
    /// system call on another thread), each thread's read again from the start; none if no
    /// event before the end or an unreadable one is accepted. For an error found after the
    /// ordering, when the cursor that read the event has moved on: reading the events again
    /// costs nothing on the way to an error, where keeping every event's offset would cost a
    /// store on every event.
    #[cold]
    pub(crate) fn find(
        gen: &Generation,
        m: i64,
        version: Version,
        arg_counts: &ArgCounts,
        matches: impl Fn(&BaseEvent) -> bool,
    ) -> Option<Location> {
        let first = gen.threads.iter().position(|t| t.m == m);
        let others = (0..gen.threads.len()).filter(|&thread| Some(thread) != first);
        first.into_iter().chain(others).find_map(|thread| {
            let batches = gen.thread_batches(thread);
            let mut cursor = Cursor::new(thread, gen.threads[thread].m, 0);
            while cursor
                .next_event(batches, &gen.arena, gen.freq, arg_counts)
                .ok()?
            {
                if matches(&cursor.ev) {
                    return Some(cursor.location(batches, &gen.arena, gen.gen, version));
                }
            }
            None
        })
    }

    /// Go's one-line description of a frontier entry in "failed to advance" errors.
    pub(crate) fn dump(&self) -> String {
        let mut line = format!("M {} [", self.m);
        if let Some(spec) = wire_spec(self.ev.typ) {
            line.push_str(&format!("{} time={}", spec.name, self.ev.time));
            for (i, name) in spec.args.iter().skip(1).enumerate() {
                line.push_str(&format!(" {name}={}", self.ev.arg(i)));
            }
        }
        line.push_str("]\n");
        line
    }
}

/// An event in Go's raw text form (`ProcSteal dt=0 p=0 p_seq=2 m=0`), as read from the wire.
pub(crate) fn raw_text(ev: &BaseEvent, dt: u64, version: Version) -> String {
    let count = wire_spec(ev.typ).map_or(0, |s| s.args.len().saturating_sub(1));
    let mut args = vec![dt];
    args.extend(ev.args.iter().take(count));
    raw_form(version, ev.typ, args)
}

/// The timed event at the start of `data` in Go's raw text form, as [`raw_text`] gives it for the
/// event as read; `None` if it cannot be read (then the event as the cursor holds it is named).
#[cold]
fn raw_text_at(data: &[u8], version: Version) -> Option<String> {
    let typ = EventType(*data.first()?);
    let count = wire_spec(typ)?.args.len();
    let mut args = Vec::with_capacity(count);
    let mut at = 1;
    for _ in 0..count {
        let (value, next) = uvarint(data, at)?;
        args.push(value);
        at = next;
    }
    Some(raw_form(version, typ, args))
}

/// Go's raw text form of an event of type `typ` with `args` (the delta first), named by
/// [`naming_version`].
fn raw_form(version: Version, typ: EventType, args: Vec<u64>) -> String {
    raw::Event {
        version: naming_version(version, typ),
        typ,
        args,
        data: Vec::new(),
    }
    .to_string()
}

/// The version whose names an event of type `typ` is printed with: the trace's own, or, for a
/// type it does not define, the parser's table by which it was read (as Go reads every trace),
/// so that a Go 1.23 `GoStatusStack` in a Go 1.22 trace is named, not printed as `Invalid(48)`.
fn naming_version(version: Version, typ: EventType) -> Version {
    if version.defines(typ) {
        version
    } else {
        PARSER_SPECS
    }
}

/// Why a timed event could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadFailure {
    /// Its type is not a timed event type.
    Untimed(EventType),
    BadTimestamp,
    BadArgument,
}

impl ReadFailure {
    /// Go's message.
    #[cold]
    fn message(self) -> String {
        match self {
            ReadFailure::Untimed(typ) if typ.0 >= EventType::MAX_EXPERIMENTAL_EVENT.0 => {
                format!("found invalid event type: {}", typ.0)
            }
            ReadFailure::Untimed(typ) => format!("found event without a timestamp: type={}", typ.0),
            ReadFailure::BadTimestamp => "found invalid uvarint for timestamp".to_owned(),
            ReadFailure::BadArgument => "found invalid uvarint".to_owned(),
        }
    }
}

/// Reads one timed event from the start of `data` (Go's `readTimedBaseEvent`): returns its size
/// and its raw timestamp delta. Every event of a plain batch must be timed.
#[inline(always)]
fn read_timed_event(
    data: &[u8],
    ev: &mut BaseEvent,
    arg_counts: &ArgCounts,
) -> Result<(usize, u64), ReadFailure> {
    let typ = EventType(data.first().copied().unwrap_or_default());
    ev.typ = typ;
    let count = arg_counts[usize::from(typ.0)];
    if count == UNTIMED {
        return Err(ReadFailure::Untimed(typ));
    }
    let (dt, mut n) = uvarint(data, 1).ok_or(ReadFailure::BadTimestamp)?;
    // A loop over the four slots, which the compiler unrolls, rather than over the count: each
    // argument position gets its own branches (one loop exit and one varint-length branch shared
    // by all arguments of all types mispredict as the types alternate).
    let count = usize::from(count);
    for (i, slot) in ev.args.iter_mut().enumerate() {
        if i >= count {
            break;
        }
        let (value, next) = uvarint(data, n).ok_or(ReadFailure::BadArgument)?;
        *slot = value;
        n = next;
    }
    Ok((n, dt))
}

/// The varint at `data[at..]` and the position after it; most arguments fit in one byte, and
/// most timestamp deltas in two or three.
#[inline(always)]
fn uvarint(data: &[u8], at: usize) -> Option<(u64, usize)> {
    let low = *data.get(at)?;
    if low < 0x80 {
        return Some((u64::from(low), at + 1));
    }
    let low = u64::from(low & 0x7f);
    let mid = *data.get(at + 1)?;
    if mid < 0x80 {
        return Some((low | u64::from(mid) << 7, at + 2));
    }
    let low = low | u64::from(mid & 0x7f) << 7;
    match data.get(at + 2) {
        Some(&high) if high < 0x80 => Some((low | u64::from(high) << 14, at + 3)),
        _ => uvarint_long(data, at),
    }
}

/// A varint of four bytes or more, with Go's overflow rules.
#[inline(never)]
fn uvarint_long(data: &[u8], at: usize) -> Option<(u64, usize)> {
    let rest = data.get(at..)?;
    let (value, len) = varint::decode(rest).ok()?;
    Some((value, at + len))
}

/// A frontier entry: a cursor and the time of its next event. The cursor is boxed, as Go's are
/// pointers, so that the heap moves two words rather than whole cursors, and the time is kept
/// beside it so that comparisons need not follow the pointer.
#[derive(Debug)]
pub(crate) struct Entry {
    pub time: Time,
    pub cursor: Box<Cursor>,
}

/// The frontier: a min-heap of entries by time, laid out exactly as Go's.
pub(crate) type Frontier = Vec<Entry>;

/// Adds a cursor to the heap (Go's `heapInsert`).
pub(crate) fn heap_insert(heap: &mut Frontier, cursor: Cursor) {
    let time = cursor.ev.time;
    heap.push(Entry {
        time,
        cursor: Box::new(cursor),
    });
    let last = heap.len() - 1;
    sift_up(heap, last, time);
}

/// Restores the heap after the cursor at `i` moved on (Go's `heapUpdate`): the entry's time is
/// its cursor's next event's.
#[inline]
pub(crate) fn heap_update(heap: &mut [Entry], i: usize) {
    let Some(time) = heap.get(i).map(|e| e.cursor.ev.time) else {
        return;
    };
    if i > 0 && sift_up(heap, i, time) != i {
        return;
    }
    sift_down(heap, i, time);
}

/// Restores the heap after the root's cursor moved on to an event at `time` (Go's `heapUpdate`
/// of the root), given the root's earlier child `child` (the left one on a tie) and its time:
/// Go's first comparisons, made by the caller before the root ran.
#[inline(always)]
pub(crate) fn sift_root(heap: &mut [Entry], time: Time, child: usize, child_time: Time) {
    if child_time < time && child < heap.len() {
        heap.swap(0, child);
        if heap.len() <= SMALL_HEAP {
            sift_down_levels(heap, child, time);
        } else {
            sift_down(heap, child, time);
        }
    } else if let Some(root) = heap.first_mut() {
        root.time = time;
    }
}

/// The largest frontier whose root is sifted without branches on the times ([`sift_down_levels`]):
/// every level costs its steps, where Go's sift mostly stops early, and on `go122-gc-stress`'s 40
/// threads that cost more (+14%) than the mispredicts it saves.
const SMALL_HEAP: usize = 8;

/// [`sift_down`] from `i`, a child of the root, without a branch on the times: one step per
/// level below `i` that the heap has (a number that depends on its length only, so the loop's
/// exit predicts), each choosing the earlier child (the left one on a tie) and whether to move
/// by conditional moves, and moving by a swap that is of the entry with itself where Go's sift
/// would have stopped (below that, no child is earlier either). Which child is earlier and
/// whether the entry moves depend on the threads' times: as branches they mispredicted about
/// as often as threads alternate.
#[inline(always)]
fn sift_down_levels(heap: &mut [Entry], mut i: usize, time: Time) {
    use core::hint::select_unpredictable;
    let len = heap.len();
    // The levels below `i`'s (depth 1): the deepest entry is at depth floor(log2(len)).
    let levels = (usize::BITS - 1).saturating_sub(len.leading_zeros() + 1);
    let last = len.saturating_sub(1);
    for _ in 0..levels {
        let left = 2 * i + 1;
        let right = left + 1;
        // A missing child is never earlier: it has the latest time, and an entry never moves
        // to a child whose time is not strictly earlier than its own.
        let time_at = |heap: &[Entry], j: usize| {
            let t = heap.get(j.min(last)).map_or(Time::MAX, |e| e.time);
            select_unpredictable(j < len, t, Time::MAX)
        };
        let (left_time, right_time) = (time_at(heap, left), time_at(heap, right));
        let (child, child_time) = select_unpredictable(
            right_time < left_time,
            (right, right_time),
            (left, left_time),
        );
        let to = select_unpredictable(child_time < time, child, i);
        heap.swap(i, to.min(last));
        i = to;
    }
    if let Some(entry) = heap.get_mut(i) {
        entry.time = time;
    }
}

/// Removes the cursor at `i` (Go's `heapRemove`: float it to the root regardless of its time,
/// swap it with the last, drop it, sift the new root down).
pub(crate) fn heap_remove(heap: &mut Frontier, mut i: usize) {
    if i >= heap.len() {
        return;
    }
    while i > 0 {
        heap.swap((i - 1) / 2, i);
        i = (i - 1) / 2;
    }
    let last = heap.len() - 1;
    heap.swap(0, last);
    heap.pop();
    if let Some(time) = heap.first().map(|e| e.time) {
        sift_down(heap, 0, time);
    }
}

/// Sorts the frontier by time as Go does before trying the other threads in time order.
pub(crate) fn sort_frontier(heap: &mut [Entry]) {
    sort_like_go(heap, |a, b| a.time < b.time);
}

// The sifts move the entry at `i`, whose time is `time` (its stored time may be stale), and
// store `time` once, where the entry ends up. The time stays in a register: storing it first and
// moving the entry right after makes the processor forward an 8-byte store to a 16-byte load,
// which stalls it (a quarter of the merge's time on the generated trace).

/// Moves the entry at `i` up while its parent is strictly later (Go's `heapSiftUp`).
fn sift_up(heap: &mut [Entry], mut i: usize, time: Time) -> usize {
    while i > 0 {
        let parent = (i - 1) / 2;
        if heap.get(parent).is_none_or(|p| p.time <= time) {
            break;
        }
        heap.swap(parent, i);
        i = parent;
    }
    if let Some(entry) = heap.get_mut(i) {
        entry.time = time;
    }
    i
}

/// Moves the entry at `i` down while a child is strictly earlier, preferring the left child on
/// ties (Go's `heapSiftDown` with its `min3`).
#[inline]
fn sift_down(heap: &mut [Entry], mut i: usize, time: Time) -> usize {
    loop {
        let (mut min_index, mut min_time) = (i, time);
        let left = 2 * i + 1;
        if let Some(child) = heap.get(left) {
            if child.time < min_time {
                min_index = left;
                min_time = child.time;
            }
        }
        if let Some(child) = heap.get(left + 1) {
            if child.time < min_time {
                min_index = left + 1;
            }
        }
        if min_index == i {
            if let Some(entry) = heap.get_mut(i) {
                entry.time = time;
            }
            return i;
        }
        heap.swap(i, min_index);
        i = min_index;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::type_table;

    fn cursor(m: i64, time: Time) -> Cursor {
        let mut c = Cursor::new(0, m, 0);
        c.ev.time = time;
        c
    }

    fn order(heap: &[Entry]) -> Vec<i64> {
        heap.iter().map(|e| e.cursor.m).collect()
    }

    #[test]
    fn heap_keeps_the_earliest_first_and_ties_in_gos_layout() {
        let mut heap = Vec::new();
        for (m, t) in [(1, 5), (2, 3), (3, 3), (4, 1)] {
            heap_insert(&mut heap, cursor(m, t));
        }
        assert_eq!(order(&heap), [4, 2, 3, 1]);
        heap[0].cursor.ev.time = 3;
        heap_update(&mut heap, 0);
        // The root ties with both children and stays put.
        assert_eq!(order(&heap), [4, 2, 3, 1]);
        // Removal floats the entry to the root first, whatever its time.
        heap_remove(&mut heap, 2);
        assert_eq!(order(&heap), [2, 1, 4]);
        heap_remove(&mut heap, 0);
        assert_eq!(order(&heap), [4, 1]);
    }

    #[test]
    fn the_root_sifts_as_gos_update_does_given_its_earlier_child() {
        // Few distinct times, so that ties are frequent; a small pseudo-random sequence.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound) as Time
        };
        let layout = |heap: &[Entry]| {
            heap.iter()
                .map(|e| (e.cursor.m, e.time))
                .collect::<Vec<_>>()
        };
        for size in 1..41 {
            let mut ours = Vec::new();
            let mut gos = Vec::new();
            for m in 0..size {
                let time = next(5);
                heap_insert(&mut ours, cursor(m, time));
                heap_insert(&mut gos, cursor(m, time));
            }
            for _ in 0..300 {
                let time = next(7);
                let child_time = |i: usize| ours.get(i).map_or(Time::MAX, |e: &Entry| e.time);
                let (left, right) = (child_time(1), child_time(2));
                let (child, earlier) = if right < left { (2, right) } else { (1, left) };
                ours[0].cursor.ev.time = time;
                sift_root(&mut ours, time, child, earlier);
                gos[0].cursor.ev.time = time;
                heap_update(&mut gos, 0);
                assert_eq!(layout(&ours), layout(&gos), "size {size}");
            }
        }
    }

    #[test]
    fn timed_events_are_read_with_gos_errors() {
        let mut ev = BaseEvent::default();
        // ProcStart dt=2 p=1 p_seq=3
        assert_eq!(
            read_timed_event(&[10, 2, 1, 3], &mut ev, &type_table().timed_args),
            Ok((4, 2))
        );
        assert_eq!(
            (ev.typ, ev.args[0], ev.args[1]),
            (EventType::PROC_START, 1, 3)
        );
        assert_eq!(
            raw_text(&ev, 2, Version::Go122),
            "ProcStart dt=2 p=1 p_seq=3"
        );
        // Multi-byte varints: dt=300 (two bytes), p=1, p_seq=16384 (three bytes).
        assert_eq!(
            read_timed_event(
                &[10, 0xac, 0x02, 1, 0x80, 0x80, 0x01],
                &mut ev,
                &type_table().timed_args
            ),
            Ok((7, 300))
        );
        assert_eq!((ev.args[0], ev.args[1]), (1, 16384));
        let fail = |data: &[u8]| {
            let mut ev = BaseEvent::default();
            read_timed_event(data, &mut ev, &type_table().timed_args)
                .unwrap_err()
                .message()
        };
        // Every length, at the end of the data and followed by more.
        for value in [
            0,
            1,
            127,
            128,
            300,
            16383,
            16384,
            1 << 35,
            (1 << 56) - 1,
            1 << 56,
            u64::MAX,
        ] {
            let mut bytes = [0; varint::MAX_LEN];
            let len = varint::encode(value, &mut bytes);
            let mut padded = bytes[..len].to_vec();
            assert_eq!(
                uvarint(&padded, 0),
                Some((value, len)),
                "{value} at the end"
            );
            padded.extend([0xff; 8]);
            assert_eq!(
                uvarint(&padded, 0),
                Some((value, len)),
                "{value} followed by more"
            );
        }
        assert_eq!(uvarint(&[0x80; 8], 0), None);
        assert_eq!(uvarint(&[0x80; 12], 0), None);
        assert_eq!(fail(&[10, 0xac]), "found invalid uvarint for timestamp");
        assert_eq!(fail(&[200]), "found invalid event type: 200");
        assert_eq!(fail(&[8, 1]), "found event without a timestamp: type=8");
        assert_eq!(fail(&[10]), "found invalid uvarint for timestamp");
        assert_eq!(fail(&[10, 0, 1, 0x80]), "found invalid uvarint");
    }
}
