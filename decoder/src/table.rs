//! The per-generation tables events refer to by ID: strings, stacks, and the frame of each PC.
//!
//! Events hold an `Arc` of their generation's table, so an event stays printable after its
//! generation is gone while the reader itself keeps only one generation in memory.

use std::fmt::Write;

use crate::error::Error;
use crate::id_map::IdMap;

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

/// Strings, stacks and frames of one generation, and its clock snapshot.
#[derive(Debug, Default)]
pub(crate) struct Table {
    pub clock: Option<ClockSnapshot>,
    strings: IdMap<u64, Box<[u8]>>,
    stacks: IdMap<u64, Box<[u64]>>,
    /// The frame of each PC, as the first stack mentioning it described it (Go keeps the first).
    pcs: IdMap<u64, Frame>,
}

impl Table {
    /// The string with this ID; ID 0 is always the empty string.
    pub(crate) fn string(&self, id: u64) -> Option<&[u8]> {
        if id == 0 {
            return Some(&[]);
        }
        self.strings.get(&id).map(|s| &s[..])
    }

    /// The PCs of the stack with this ID; ID 0 is always the empty stack.
    pub(crate) fn stack(&self, id: u64) -> Option<&[u64]> {
        if id == 0 {
            return Some(&[]);
        }
        self.stacks.get(&id).map(|s| &s[..])
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

    /// Checks that every frame's function and file strings exist, stacks in ID order.
    pub(crate) fn validate_stack_strings(&self) -> Result<(), Error> {
        let mut ids: Vec<u64> = self.stacks.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            for pc in self.stacks.get(&id).into_iter().flatten() {
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
