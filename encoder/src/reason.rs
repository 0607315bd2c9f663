//! Why a goroutine stops or blocks: a fixed set of reasons whose strings have IDs reserved in
//! every generation, so `GoStop` and `GoBlock` write one constant byte instead of interning a
//! string on every scheduling event.

/// The reason carried by `GoStop` and `GoBlock`, shown by Go's tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Reason {
    /// The task gave up its executor and stays runnable.
    Yield,
    /// The task waits until something wakes it.
    Wait,
}

impl Reason {
    /// Every reason, in the order of their string IDs (1, 2, ...).
    pub(crate) const ALL: [Reason; 2] = [Reason::Yield, Reason::Wait];

    /// The reason's string in the trace (Go's tools show it): `"yield"`, `"wait"`.
    pub fn text(self) -> &'static str {
        match self {
            Reason::Yield => "yield",
            Reason::Wait => "wait",
        }
    }

    /// The string ID of the reason, the same in every generation.
    #[inline]
    pub(crate) fn string_id(self) -> u32 {
        self as u32 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_ids_follow_the_table_order() {
        for (i, r) in Reason::ALL.into_iter().enumerate() {
            assert_eq!(r.string_id(), i as u32 + 1, "{}", r.text());
        }
    }
}
