//! The per-generation tables events refer to by ID: strings, stacks, and the frame of each PC.
//!
//! Events hold an `Arc` of their generation's table, so an event stays printable after its
//! generation is gone while the reader itself keeps only one generation in memory.

use std::fmt::Write;
use std::sync::OnceLock;

use gotrace_wire::{EventType, Version};

use crate::error::{Error, Location};
use crate::id_map::{id_map, IdMap};
use crate::raw;

/// Largest number of frames of a stack, as a `usize`.
const MAX_FRAMES: usize = gotrace_wire::MAX_FRAMES_PER_STACK as usize;

/// One frame as the stack table first described its PC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Frame {
    pub func: u64,
    pub file: u64,
    pub line: u64,
}

/// The clocks read together at the start of a generation (Go 1.25 and later).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockSnapshot {
    /// The trace clock, in nanoseconds like event times.
    pub trace: i64,
    /// The monotonic clock, in nanoseconds.
    pub mono: u64,
    /// The wall clock: whole seconds since the Unix epoch.
    pub wall_sec: i64,
    /// The wall clock: nanoseconds within `wall_sec`.
    pub wall_nsec: i64,
}

/// Entries by ID: a vector indexed by ID while the IDs are dense (as the runtime numbers them,
/// from 1), else a hash map, compacted back to a vector at the end of the generation if the IDs
/// turn out dense after all, as Go compacts its tables: events look strings and stacks up all
/// the time.
#[derive(Debug)]
enum IdTable<T> {
    Sparse(IdMap<u64, T>),
    /// Slots by ID and how many are filled: never more than [`dense_limit`] slots.
    Dense {
        slots: Vec<Option<T>>,
        filled: usize,
    },
}

/// Most slots a dense table of `entries` entries may have: two per entry, plus a few hundred,
/// so that a small table stays a vector whatever the order of its IDs (the runtime writes its
/// stacks in hash order), at a cost of a few KiB at most.
fn dense_limit(entries: usize) -> usize {
    entries.saturating_mul(2).saturating_add(DENSE_SLACK)
}

/// Slots a dense table may have beyond two per entry.
const DENSE_SLACK: usize = 256;

/// Bytes of a strings batch per string, a guess for the table's first size: a string entry takes
/// three bytes and its text, and the runtime's strings are names of functions and files.
const STRING_GUESS: usize = 16;

/// Bytes of a stacks batch per stack and per frame, guessed likewise: a frame takes four
/// varints, one of them a PC of three bytes or more.
const STACK_GUESS: usize = 16;
const FRAME_GUESS: usize = 6;

impl<T> Default for IdTable<T> {
    /// Dense from the start, as the runtime numbers its entries densely: no hashing while the
    /// generation is read, unless the IDs turn out sparse.
    fn default() -> Self {
        IdTable::Dense {
            slots: Vec::new(),
            filled: 0,
        }
    }
}

impl<T> IdTable<T> {
    #[inline(always)]
    fn get(&self, id: u64) -> Option<&T> {
        match self {
            IdTable::Sparse(map) => map.get(&id),
            IdTable::Dense { slots, .. } => slots.get(usize::try_from(id).ok()?)?.as_ref(),
        }
    }

    /// Makes room for `entries` more entries in a dense table, within its limit.
    fn reserve(&mut self, entries: usize) {
        if let IdTable::Dense { slots, filled } = self {
            let limit = dense_limit(filled.saturating_add(entries));
            slots.reserve(entries.min(limit.saturating_sub(slots.len())));
        }
    }

    /// Sets the entry of `id` if it has none, in one look-up when the table is dense (as the
    /// runtime's are, its IDs mostly in order); `false` if it has one.
    #[inline]
    fn insert_vacant(&mut self, id: u64, value: T) -> bool {
        if let IdTable::Dense { slots, filled } = self {
            if let Ok(i) = usize::try_from(id) {
                if let Some(slot) = slots.get_mut(i) {
                    if slot.is_some() {
                        return false;
                    }
                    *slot = Some(value);
                    *filled += 1;
                    return true;
                }
                if i == slots.len() && i < dense_limit(*filled + 1) {
                    slots.push(Some(value));
                    *filled += 1;
                    return true;
                }
            }
        }
        if self.get(id).is_some() {
            return false;
        }
        self.insert(id, value);
        true
    }

    /// Sets the entry of `id`; the table turns sparse when a dense one would exceed its limit.
    fn insert(&mut self, id: u64, value: T) {
        if let IdTable::Dense { slots, filled } = self {
            match usize::try_from(id) {
                Ok(i) if i < slots.len() => {
                    if slots[i].is_none() {
                        *filled += 1;
                    }
                    slots[i] = Some(value);
                    return;
                }
                Ok(i) if i < dense_limit(*filled + 1) => {
                    // The runtime numbers its entries in order: mostly the next slot.
                    slots.resize_with(i, || None);
                    slots.push(Some(value));
                    *filled += 1;
                    return;
                }
                _ => {}
            }
            let map = std::mem::take(slots)
                .into_iter()
                .enumerate()
                .filter_map(|(i, slot)| Some((i as u64, slot?)))
                .collect();
            *self = IdTable::Sparse(map);
        }
        if let IdTable::Sparse(map) = self {
            map.insert(id, value);
        }
    }

    /// The largest ID up to which every ID from 1 on has an entry (0 if ID 1 has none).
    fn run_from_1(&self) -> u64 {
        let IdTable::Dense { slots, .. } = self else {
            return 0;
        };
        let run = slots
            .iter()
            .skip(1)
            .take_while(|slot| slot.is_some())
            .count();
        run as u64
    }

    /// Switches to the vector form if that costs at most two slots per entry.
    fn compact(&mut self) {
        let IdTable::Sparse(map) = self else {
            if let IdTable::Dense { slots, .. } = self {
                slots.shrink_to_fit();
            }
            return;
        };
        let max = map.keys().copied().max().unwrap_or_default();
        let Ok(len) = usize::try_from(max) else {
            return;
        };
        if len >= dense_limit(map.len()) {
            return;
        }
        let filled = map.len();
        let mut slots: Vec<Option<T>> = std::iter::repeat_with(|| None).take(len + 1).collect();
        for (id, value) in map.drain() {
            if let Some(slot) = slots.get_mut(id as usize) {
                *slot = Some(value);
            }
        }
        *self = IdTable::Dense { slots, filled };
    }

    /// The IDs present, in increasing order.
    fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = match self {
            IdTable::Sparse(map) => map.keys().copied().collect(),
            IdTable::Dense { slots, .. } => (0..slots.len() as u64)
                .filter(|&id| self.get(id).is_some())
                .collect(),
        };
        ids.sort_unstable();
        ids
    }
}

/// Where an entry's items are in its table's arena.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    end: usize,
}

/// A stack's PCs in the arena, and where its `Stack` event is in the file: its frames' strings
/// are checked only once the whole generation is read, and an error then still names the entry.
#[derive(Clone, Copy, Debug)]
struct StackEntry {
    pcs: Span,
    offset: u64,
}

/// Strings, stacks and frames of one generation, and its clock snapshot. The bytes of all
/// strings share one arena, and so do the PCs of all stacks: a generation has thousands of
/// each, and one allocation apiece made building and dropping the table cost as much as
/// decoding its events.
#[derive(Debug, Default)]
pub(crate) struct Table {
    pub clock: Option<ClockSnapshot>,
    strings: IdTable<Span>,
    string_bytes: Vec<u8>,
    stacks: IdTable<StackEntry>,
    stack_pcs: Vec<u64>,
    /// Each PC's frame as its stack described it, beside it in `stack_pcs`.
    stack_frames: Vec<Frame>,
    /// The frame of each PC, as the first stack mentioning it described it (Go keeps the first),
    /// made from `stack_frames` when a frame is first looked up: only printing a stack needs
    /// it, and made while the stacks were read (a hashed insert per frame, the map growing step
    /// by step) it was a tenth of the time of a small trace's read.
    pcs: OnceLock<IdMap<u64, Frame>>,
    /// Every string ID from 0 to this one exists (set by [`Table::compact`]; entries are never
    /// removed, so it stays true as more are added), as the runtime numbers its strings.
    strings_run: u64,
    /// The same for stacks.
    stacks_run: u64,
}

impl Table {
    /// The string with this ID; ID 0 is always the empty string.
    #[inline]
    pub(crate) fn string(&self, id: u64) -> Option<&[u8]> {
        if id == 0 {
            return Some(&[]);
        }
        let span = self.strings.get(id)?;
        self.string_bytes.get(span.start..span.end)
    }

    /// The PCs of the stack with this ID; ID 0 is always the empty stack.
    #[inline]
    pub(crate) fn stack(&self, id: u64) -> Option<&[u64]> {
        if id == 0 {
            return Some(&[]);
        }
        let span = self.stacks.get(id)?.pcs;
        self.stack_pcs.get(span.start..span.end)
    }

    /// Whether the string with this ID exists (what events are checked for): one comparison
    /// for the IDs up to [`Table::strings_run`], a look-up for the others.
    #[inline]
    pub(crate) fn has_string(&self, id: u64) -> bool {
        id <= self.strings_run || self.strings.get(id).is_some()
    }

    /// Whether the stack with this ID exists, as [`Table::has_string`].
    #[inline]
    pub(crate) fn has_stack(&self, id: u64) -> bool {
        id <= self.stacks_run || self.stacks.get(id).is_some()
    }

    pub(crate) fn frame(&self, pc: u64) -> Option<Frame> {
        self.pcs().get(&pc).copied()
    }

    /// The frame of each PC: the first description in the order the stacks were read.
    fn pcs(&self) -> &IdMap<u64, Frame> {
        self.pcs.get_or_init(|| {
            let mut pcs = id_map();
            for (&pc, &frame) in self.stack_pcs.iter().zip(&self.stack_frames) {
                pcs.entry(pc).or_insert(frame);
            }
            pcs
        })
    }

    /// Makes room for the strings of a batch of `bytes` bytes: all its bytes, and slots for
    /// one string per [`STRING_GUESS`] bytes (grown as needed beyond that), so that a small
    /// generation's table does not grow step by step.
    pub(crate) fn reserve_strings(&mut self, bytes: usize) {
        self.string_bytes.reserve(bytes);
        self.strings.reserve(bytes / STRING_GUESS);
    }

    /// Makes room for the stacks of a batch of `bytes` bytes, guessed like the strings'.
    pub(crate) fn reserve_stacks(&mut self, bytes: usize) {
        self.stacks.reserve(bytes / STACK_GUESS);
        self.stack_pcs.reserve(bytes / FRAME_GUESS);
        self.stack_frames.reserve(bytes / FRAME_GUESS);
    }

    /// Adds a string; an ID that is already taken (0 always is) is an error, as in Go.
    pub(crate) fn insert_string(&mut self, id: u64, s: &[u8]) -> Result<(), Error> {
        let start = self.string_bytes.len();
        let span = Span {
            start,
            end: start + s.len(),
        };
        if id == 0 || !self.strings.insert_vacant(id, span) {
            return Err(self.duplicate_string(id, s));
        }
        self.string_bytes.extend_from_slice(s);
        Ok(())
    }

    /// Go's error for a string whose ID is taken.
    #[cold]
    fn duplicate_string(&self, id: u64, s: &[u8]) -> Error {
        Error::new(format!(
            "multiple strings with the same ID: id={id}, new={}, existing={}",
            String::from_utf8_lossy(s),
            String::from_utf8_lossy(self.string(id).unwrap_or_default())
        ))
    }

    /// Where the frames of the next stack begin (see [`Table::end_stack`]).
    pub(crate) fn frames_len(&self) -> usize {
        self.stack_pcs.len()
    }

    /// Adds a frame to the stack being read.
    #[inline]
    pub(crate) fn push_frame(&mut self, pc: u64, frame: Frame) {
        self.stack_pcs.push(pc);
        self.stack_frames.push(frame);
    }

    /// Adds stack `id`, whose frames were pushed since `start` ([`Table::frames_len`]) and whose
    /// `Stack` event starts at byte `offset` of the file; an ID already taken is an error, as in
    /// Go. The frames go straight into the table's arena as they are read, with no vector of the
    /// stack's frames in between.
    pub(crate) fn end_stack(&mut self, id: u64, start: usize, offset: u64) -> Result<(), Error> {
        let end = self.stack_pcs.len();
        let entry = StackEntry {
            pcs: Span { start, end },
            offset,
        };
        if id == 0 || !self.stacks.insert_vacant(id, entry) {
            return Err(self.duplicate_stack(id, start..end));
        }
        // A map made by an earlier look-up does not know this stack's frames.
        self.pcs.take();
        Ok(())
    }

    /// Go's error for a stack whose ID is taken, the new one's PCs at `new` in the arena.
    #[cold]
    fn duplicate_stack(&self, id: u64, new: std::ops::Range<usize>) -> Error {
        Error::new(format!(
            "multiple trace.stacks with the same ID: id={id}, new={}, existing={}",
            go_stack_text(self.stack_pcs.get(new).unwrap_or_default()),
            go_stack_text(self.stack(id).unwrap_or_default())
        ))
    }

    /// Adds a stack and its frames, its event at offset `id` (any offset will do for a test).
    #[cfg(test)]
    fn insert_stack(&mut self, id: u64, frames: &[(u64, Frame)]) -> Result<(), Error> {
        let start = self.frames_len();
        for &(pc, frame) in frames {
            self.push_frame(pc, frame);
        }
        self.end_stack(id, start, id)
    }

    /// Makes lookups cheap once the generation is complete.
    pub(crate) fn compact(&mut self) {
        self.strings.compact();
        self.stacks.compact();
        self.strings_run = self.strings.run_from_1();
        self.stacks_run = self.stacks.run_from_1();
        self.string_bytes.shrink_to_fit();
        self.stack_pcs.shrink_to_fit();
        self.stack_frames.shrink_to_fit();
    }

    /// Checks that every frame's function and file strings exist, stacks in ID order. An error
    /// names the failing stack's event, in the text of trace `version`, and its file offset (its
    /// batch is the caller's to name).
    pub(crate) fn validate_stack_strings(&self, version: Version) -> Result<(), Error> {
        // Every PC of every stack has its frame, and every frame kept is one of the descriptions:
        // if all descriptions name existing strings, no stack has a bad one, and the walk in ID
        // order that finds Go's first error is not needed.
        let frames_ok = (self.stack_frames.iter())
            .all(|frame| self.has_string(frame.func) && self.has_string(frame.file));
        if frames_ok {
            return Ok(());
        }
        for id in self.stacks.ids() {
            let Some(&StackEntry { pcs, offset }) = self.stacks.get(id) else {
                continue;
            };
            for pc in self.stack_pcs.get(pcs.start..pcs.end).into_iter().flatten() {
                let message = match self.frame(*pc) {
                    None => format!("found unknown pc {pc:x} for stack {id}"),
                    Some(frame) if self.string(frame.func).is_none() => {
                        format!("found invalid func string ID {} for stack {id}", frame.func)
                    }
                    Some(frame) if self.string(frame.file).is_none() => {
                        format!("found invalid file string ID {} for stack {id}", frame.file)
                    }
                    Some(_) => continue,
                };
                let at = Location {
                    event_offset: Some(offset),
                    event: Some(self.stack_event(id, pcs, version).to_string()),
                    ..Location::default()
                };
                return Err(Error::new(message).at(&at));
            }
        }
        Ok(())
    }

    /// The `Stack` event that described stack `id`, whose PCs are at `pcs`, as it was read: each
    /// frame is kept beside its PC as this stack described it.
    #[cold]
    fn stack_event(&self, id: u64, pcs: Span, version: Version) -> raw::Event {
        let mut args = vec![id, (pcs.end - pcs.start) as u64];
        let frames = (self.stack_pcs.get(pcs.start..pcs.end).into_iter().flatten()).zip(
            self.stack_frames
                .get(pcs.start..pcs.end)
                .into_iter()
                .flatten(),
        );
        for (&pc, frame) in frames {
            args.extend([pc, frame.func, frame.file, frame.line]);
        }
        raw::Event {
            version,
            typ: EventType::STACK,
            args,
            data: Vec::new(),
        }
    }
}

/// Go's debug form of a stack (`%v` of its internal stack type): one `\t0x..` line per PC.
fn go_stack_text(pcs: &[u64]) -> String {
    let mut text = String::new();
    for pc in pcs {
        let _ = writeln!(text, "\t{pc:#x}");
    }
    text
}

/// Reads the frames of one stack entry, bounded by Go's frame limit.
pub(crate) fn check_frame_count(n: u64) -> Result<usize, Error> {
    if n > gotrace_wire::MAX_FRAMES_PER_STACK {
        return Err(Error::new(format!(
            "invalid stack size {n}, maximum is {}",
            gotrace_wire::MAX_FRAMES_PER_STACK
        )));
    }
    Ok((n as usize).min(MAX_FRAMES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacted_tables_find_the_same_entries() {
        let mut table = Table::default();
        for id in [1, 2, 3, 5, 8] {
            table.insert_string(id, &[id as u8]).unwrap();
        }
        table.insert_string(1 << 40, b"far").unwrap();
        table.compact();
        assert_eq!(
            table.string(1 << 40),
            Some(&b"far"[..]),
            "sparse IDs stay sparse"
        );
        let mut dense = Table::default();
        for id in [1, 2, 3, 5, 8] {
            dense.insert_string(id, &[id as u8]).unwrap();
        }
        dense.compact();
        assert!(matches!(dense.strings, IdTable::Dense { .. }));
        for id in 0..10 {
            let expected = match id {
                0 => Some(vec![]),
                1 | 2 | 3 | 5 | 8 => Some(vec![id as u8]),
                _ => None,
            };
            assert_eq!(dense.string(id).map(<[u8]>::to_vec), expected, "id {id}");
        }
        assert_eq!(dense.strings.ids(), [1, 2, 3, 5, 8]);
        let mut shuffled = Table::default();
        for id in [45, 22, 9, 71, 10] {
            shuffled.insert_stack(id, &[]).unwrap();
        }
        assert!(
            matches!(shuffled.stacks, IdTable::Dense { .. }),
            "a small table is a vector whatever the order of its IDs"
        );
        assert_eq!(shuffled.stack(71), Some(&[][..]));
        assert_eq!(shuffled.stack(70), None);
        dense.insert_string(100, b"late").unwrap();
        assert_eq!(dense.string(100), Some(&b"late"[..]));
        assert_eq!(dense.string(5), Some(&[5u8][..]));
    }

    #[test]
    fn the_run_of_ids_from_1_is_where_it_ends() {
        let mut table = Table::default();
        for id in [1, 2, 3, 5, 8] {
            table.insert_string(id, &[id as u8]).unwrap();
            table.insert_stack(id + 1, &[]).unwrap();
        }
        table.compact();
        assert_eq!((table.strings_run, table.stacks_run), (3, 0));
        for id in 0..12 {
            let string = matches!(id, 0 | 1 | 2 | 3 | 5 | 8);
            let stack = matches!(id, 0 | 2 | 3 | 4 | 6 | 9);
            assert_eq!(table.has_string(id), string, "string {id}");
            assert_eq!(table.has_stack(id), stack, "stack {id}");
        }
        // Added after the run was counted: found by the look-up.
        table.insert_string(4, b"late").unwrap();
        assert!(table.has_string(4));
        let mut sparse = Table::default();
        sparse.insert_string(1 << 40, b"far").unwrap();
        sparse.compact();
        assert_eq!(sparse.strings_run, 0);
        assert!(sparse.has_string(1 << 40) && sparse.has_string(0) && !sparse.has_string(1));
    }

    #[test]
    fn ids_are_unique_and_zero_is_taken() {
        let mut table = Table::default();
        table.insert_string(1, b"a").unwrap();
        assert_eq!(
            table.insert_string(1, b"b").unwrap_err().go_message(),
            "multiple strings with the same ID: id=1, new=b, existing=a"
        );
        assert!(table.insert_string(0, b"z").is_err());
        assert_eq!(table.string(0), Some(&b""[..]));
        assert_eq!(table.string(2), None);
    }

    #[test]
    fn the_first_description_of_a_pc_wins_and_strings_are_checked() {
        let mut table = Table::default();
        let f1 = Frame {
            func: 1,
            file: 2,
            line: 3,
        };
        let f2 = Frame {
            func: 5,
            file: 5,
            line: 9,
        };
        table.insert_stack(1, &[(0x10, f1)]).unwrap();
        table.insert_stack(2, &[(0x10, f2)]).unwrap();
        assert_eq!(table.frame(0x10), Some(f1));
        assert_eq!(
            table
                .validate_stack_strings(Version::Go122)
                .unwrap_err()
                .go_message(),
            "found invalid func string ID 1 for stack 1"
        );
        assert_eq!(
            table.insert_stack(1, &[]).unwrap_err().go_message(),
            "multiple trace.stacks with the same ID: id=1, new=, existing=\t0x10\n"
        );
    }

    #[test]
    fn only_the_first_description_of_a_pc_needs_existing_strings() {
        let mut table = Table::default();
        table.insert_string(1, b"f").unwrap();
        let good = Frame {
            func: 1,
            file: 1,
            line: 3,
        };
        let bad = Frame {
            func: 7,
            file: 8,
            line: 9,
        };
        table.insert_stack(1, &[(0x10, good)]).unwrap();
        table.insert_stack(2, &[(0x20, good), (0x10, bad)]).unwrap();
        table.compact();
        assert!(table.validate_stack_strings(Version::Go122).is_ok());
        assert_eq!(table.frame(0x10), Some(good));
        assert_eq!(table.frame(0x20), Some(good));
        assert_eq!(table.frame(0x30), None);
        table.insert_stack(3, &[(0x30, bad), (0x10, bad)]).unwrap();
        let error = table.validate_stack_strings(Version::Go122).unwrap_err();
        assert_eq!(
            error.go_message(),
            "found invalid func string ID 7 for stack 3"
        );
        assert_eq!(
            error.location().event_offset,
            Some(3),
            "the failing stack's event is named (insert_stack puts stack 3's at offset 3)"
        );
        assert_eq!(
            error.location().event.as_deref(),
            Some(
                "Stack id=3 nframes=2\n\tpc=48 func=7 file=8 line=9\n\tpc=16 func=7 file=8 line=9"
            ),
            "the event as stack 3 described its frames, not as the first description of a PC"
        );
    }
}
