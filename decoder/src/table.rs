//! The per-generation tables events refer to by ID: strings, stacks, and the frame of each PC.
//!
//! Events hold an `Arc` of their generation's table, so an event stays printable after its
//! generation is gone while the reader itself keeps only one generation in memory.

use std::fmt::Write;

use crate::error::Error;
use crate::id_map::{id_map, IdMap};

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
    /// The wall clock: seconds and nanoseconds since the Unix epoch.
    pub wall_sec: i64,
    pub wall_nsec: i64,
}

/// Entries by ID: a hash map while the generation is read, then, when the IDs are dense (as
/// the runtime numbers them, from 1), a vector indexed by ID, as Go compacts its tables: events
/// look strings and stacks up all the time.
#[derive(Debug)]
enum IdTable<T> {
    Sparse(IdMap<u64, T>),
    Dense(Vec<Option<T>>),
}

impl<T> Default for IdTable<T> {
    fn default() -> Self {
        IdTable::Sparse(id_map())
    }
}

impl<T> IdTable<T> {
    fn get(&self, id: u64) -> Option<&T> {
        match self {
            IdTable::Sparse(map) => map.get(&id),
            IdTable::Dense(slots) => slots.get(usize::try_from(id).ok()?)?.as_ref(),
        }
    }

    fn insert(&mut self, id: u64, value: T) {
        if let IdTable::Dense(slots) = self {
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

    /// Switches to the vector form if that costs at most two slots per entry.
    fn compact(&mut self) {
        let IdTable::Sparse(map) = self else {
            return;
        };
        let max = map.keys().copied().max().unwrap_or_default();
        let Ok(len) = usize::try_from(max) else {
            return;
        };
        if len >= map.len().saturating_mul(2).saturating_add(2) {
            return;
        }
        let mut slots: Vec<Option<T>> = std::iter::repeat_with(|| None).take(len + 1).collect();
        for (id, value) in map.drain() {
            if let Some(slot) = slots.get_mut(id as usize) {
                *slot = Some(value);
            }
        }
        *self = IdTable::Dense(slots);
    }

    /// The IDs present, in increasing order.
    fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = match self {
            IdTable::Sparse(map) => map.keys().copied().collect(),
            IdTable::Dense(slots) => (0..slots.len() as u64)
                .filter(|&id| self.get(id).is_some())
                .collect(),
        };
        ids.sort_unstable();
        ids
    }
}

/// Strings, stacks and frames of one generation, and its clock snapshot.
#[derive(Debug, Default)]
pub(crate) struct Table {
    pub clock: Option<ClockSnapshot>,
    strings: IdTable<Box<[u8]>>,
    stacks: IdTable<Box<[u64]>>,
    /// The frame of each PC, as the first stack mentioning it described it (Go keeps the first).
    pcs: IdMap<u64, Frame>,
}

impl Table {
    /// The string with this ID; ID 0 is always the empty string.
    pub(crate) fn string(&self, id: u64) -> Option<&[u8]> {
        if id == 0 {
            return Some(&[]);
        }
        self.strings.get(id).map(|s| &s[..])
    }

    /// The PCs of the stack with this ID; ID 0 is always the empty stack.
    pub(crate) fn stack(&self, id: u64) -> Option<&[u64]> {
        if id == 0 {
            return Some(&[]);
        }
        self.stacks.get(id).map(|s| &s[..])
    }

    pub(crate) fn frame(&self, pc: u64) -> Option<Frame> {
        self.pcs.get(&pc).copied()
    }

    /// Adds a string; an ID that is already taken (0 always is) is an error, as in Go.
    pub(crate) fn insert_string(&mut self, id: u64, s: Vec<u8>) -> Result<(), Error> {
        if let Some(existing) = self.string(id) {
            return Err(Error::new(format!(
                "multiple strings with the same ID: id={id}, new={}, existing={}",
                String::from_utf8_lossy(&s),
                String::from_utf8_lossy(existing)
            )));
        }
        self.strings.insert(id, s.into_boxed_slice());
        Ok(())
    }

    /// Adds a stack and the frames of PCs not seen before.
    pub(crate) fn insert_stack(&mut self, id: u64, frames: &[(u64, Frame)]) -> Result<(), Error> {
        let pcs: Box<[u64]> = frames.iter().map(|&(pc, _)| pc).collect();
        for &(pc, frame) in frames {
            self.pcs.entry(pc).or_insert(frame);
        }
        if let Some(existing) = self.stack(id) {
            return Err(Error::new(format!(
                "multiple trace.stacks with the same ID: id={id}, new={}, existing={}",
                go_stack_text(&pcs),
                go_stack_text(existing)
            )));
        }
        self.stacks.insert(id, pcs);
        Ok(())
    }

    /// Makes lookups cheap once the generation is complete.
    pub(crate) fn compact(&mut self) {
        self.strings.compact();
        self.stacks.compact();
    }

    /// Checks that every frame's function and file strings exist, stacks in ID order.
    pub(crate) fn validate_stack_strings(&self) -> Result<(), Error> {
        for id in self.stacks.ids() {
            for pc in self.stacks.get(id).into_iter().flatten() {
                let Some(frame) = self.frame(*pc) else {
                    return Err(Error::new(format!(
                        "found unknown pc {pc:x} for stack {id}"
                    )));
                };
                if self.string(frame.func).is_none() {
                    return Err(Error::new(format!(
                        "found invalid func string ID {} for stack {id}",
                        frame.func
                    )));
                }
                if self.string(frame.file).is_none() {
                    return Err(Error::new(format!(
                        "found invalid file string ID {} for stack {id}",
                        frame.file
                    )));
                }
            }
        }
        Ok(())
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
            table.insert_string(id, vec![id as u8]).unwrap();
        }
        table.insert_string(1 << 40, b"far".to_vec()).unwrap();
        table.compact();
        assert_eq!(
            table.string(1 << 40),
            Some(&b"far"[..]),
            "sparse IDs stay sparse"
        );
        let mut dense = Table::default();
        for id in [1, 2, 3, 5, 8] {
            dense.insert_string(id, vec![id as u8]).unwrap();
        }
        dense.compact();
        assert!(matches!(dense.strings, IdTable::Dense(_)));
        for id in 0..10 {
            let expected = match id {
                0 => Some(vec![]),
                1 | 2 | 3 | 5 | 8 => Some(vec![id as u8]),
                _ => None,
            };
            assert_eq!(dense.string(id).map(<[u8]>::to_vec), expected, "id {id}");
        }
        assert_eq!(dense.strings.ids(), [1, 2, 3, 5, 8]);
        dense.insert_string(100, b"late".to_vec()).unwrap();
        assert_eq!(dense.string(100), Some(&b"late"[..]));
        assert_eq!(dense.string(5), Some(&[5u8][..]));
    }

    #[test]
    fn ids_are_unique_and_zero_is_taken() {
        let mut table = Table::default();
        table.insert_string(1, b"a".to_vec()).unwrap();
        assert_eq!(
            table
                .insert_string(1, b"b".to_vec())
                .unwrap_err()
                .go_message(),
            "multiple strings with the same ID: id=1, new=b, existing=a"
        );
        assert!(table.insert_string(0, b"z".to_vec()).is_err());
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
            table.validate_stack_strings().unwrap_err().go_message(),
            "found invalid func string ID 1 for stack 1"
        );
        assert_eq!(
            table.insert_stack(1, &[]).unwrap_err().go_message(),
            "multiple trace.stacks with the same ID: id=1, new=, existing=\t0x10\n"
        );
    }
}
