//! Per-generation tables of strings and stacks, each entry written once per generation.
//!
//! Go's format gives every generation its own string and stack IDs, so a host can parse any
//! generation alone. The device interns `&'static str` names and raw program counters into small
//! fixed tables; a full table ends the generation early (a generation boundary is always legal),
//! which is cheaper than growing and never loses an entry. Their capacity is the encoder's
//! `TABLE` parameter: a buffer the firmware sizes, like the batch buffers. The first string IDs
//! of every generation belong to the stop and block reasons (see `reason.rs`); interned names
//! follow.

/// Capacity of each per-generation table unless the encoder's `TABLE` parameter says otherwise.
pub const TABLE_CAPACITY: usize = 32;

/// The longest string Go accepts; longer names are cut to this many bytes.
pub const MAX_STRING_LEN: usize = gotrace_wire::MAX_EVENT_TRAILER_DATA_SIZE as usize;

/// The string ID of the first interned name: IDs below it are the reasons'.
pub const FIRST_STRING_ID: u64 = crate::reason::Reason::ALL.len() as u64 + 1;

/// Interned `&'static str` values; the ID of an entry is its index plus [`FIRST_STRING_ID`] (0
/// is "no string").
pub struct Strings<const N: usize> {
    entries: heapless::Vec<&'static str, N>,
}

impl<const N: usize> Strings<N> {
    pub const fn new() -> Self {
        Strings {
            entries: heapless::Vec::new(),
        }
    }

    /// The ID of `s`, interning it if there is room; `None` when the table is full.
    pub fn intern(&mut self, s: &'static str) -> Option<u64> {
        if let Some(i) = self.entries.iter().position(|&e| e == s) {
            return Some(i as u64 + FIRST_STRING_ID);
        }
        self.entries.push(s).ok()?;
        Some(self.entries.len() as u64 - 1 + FIRST_STRING_ID)
    }

    /// Writes the ID of each of `names` into `ids` (in order), interning them; `false` as soon
    /// as the table is full (the rest of `ids` is left as it was). Out of line: one copy serves
    /// the first try and the retry after a generation ends.
    #[inline(never)]
    pub fn intern_all(&mut self, names: &[&'static str], ids: &mut [u64]) -> bool {
        for (&name, id) in names.iter().zip(ids) {
            let Some(new) = self.intern(name) else {
                return false;
            };
            *id = new;
        }
        true
    }

    /// Empties the table for the next generation.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, &'static str)> + '_ {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, &s)| (i as u64 + FIRST_STRING_ID, s))
    }
}

/// Interned single-frame stacks (a task's entry function); the ID is the index plus one.
pub struct Stacks<const N: usize> {
    entries: heapless::Vec<u64, N>,
}

impl<const N: usize> Stacks<N> {
    pub const fn new() -> Self {
        Stacks {
            entries: heapless::Vec::new(),
        }
    }

    pub fn intern(&mut self, pc: u64) -> Option<u64> {
        if let Some(i) = self.entries.iter().position(|&e| e == pc) {
            return Some(i as u64 + 1);
        }
        self.entries.push(pc).ok()?;
        Some(self.entries.len() as u64)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, &pc)| (i as u64 + 1, pc))
    }
}

impl<const N: usize> Default for Strings<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Default for Stacks<N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_are_numbered_from_1_reused_and_refused_when_full() {
        let mut s = Stacks::<2>::new();
        assert_eq!(s.intern(0x100), Some(1));
        assert_eq!(s.intern(0x200), Some(2));
        assert_eq!(s.intern(0x100), Some(1), "a known PC keeps its ID");
        assert_eq!(s.intern(0x200), Some(2), "a known PC keeps its ID");
        assert_eq!(s.intern(0x300), None, "full");
        assert!(s.iter().eq([(1, 0x100), (2, 0x200)]));
        s.clear();
        assert_eq!(s.intern(0x300), Some(1));
    }

    #[test]
    fn interning_reuses_ids_and_reports_a_full_table() {
        let mut s = Strings::<TABLE_CAPACITY>::new();
        assert_eq!(s.intern("a"), Some(FIRST_STRING_ID));
        assert_eq!(s.intern("b"), Some(FIRST_STRING_ID + 1));
        assert_eq!(s.intern("a"), Some(FIRST_STRING_ID));
        let names: [&'static str; TABLE_CAPACITY] = core::array::from_fn(|i| {
            std::boxed::Box::leak(std::format!("n{i}").into_boxed_str()) as &'static str
        });
        for n in &names[..TABLE_CAPACITY - 3] {
            assert!(s.intern(n).is_some());
        }
        assert_eq!(
            s.intern("new"),
            Some(FIRST_STRING_ID + TABLE_CAPACITY as u64 - 1)
        );
        assert_eq!(s.intern("newer"), None, "full");
        assert_eq!(
            s.intern("a"),
            Some(FIRST_STRING_ID),
            "known names still resolve"
        );
        s.clear();
        assert_eq!(s.intern("newer"), Some(FIRST_STRING_ID));
    }
}
