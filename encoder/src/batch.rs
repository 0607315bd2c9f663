//! One M's batch under construction: a fixed buffer of encoded events plus the batch's base time.
//!
//! Events are written as the type byte, the timestamp delta from the previous event of the same
//! batch (the first from the batch's base time), then each argument as a uvarint. The batch is
//! handed to the sink whole, prefixed by its `EventBatch` header (generation, M, base time, size).

use gotrace_wire::{varint, EventType};

/// The longest `EventBatch` header: the type byte and four 10-byte varints.
pub const MAX_HEADER_LEN: usize = 1 + 4 * varint::MAX_LEN;

/// The encoded size of one event: type byte, delta, arguments.
pub fn event_len(dt: u64, args: &[u64]) -> usize {
    1 + varint::encoded_len(dt) + args.iter().map(|&a| varint::encoded_len(a)).sum::<usize>()
}

/// A batch buffer holding up to `CAP` bytes of payload.
pub struct Batch<const CAP: usize> {
    data: heapless::Vec<u8, CAP>,
    base: u64,
    last: u64,
}

impl<const CAP: usize> Batch<CAP> {
    pub const fn new() -> Self {
        Batch {
            data: heapless::Vec::new(),
            base: 0,
            last: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Appends a timed event at time `ts`, returning its encoded length, or `None` (and writing
    /// nothing) when it does not fit.
    pub fn push_event(&mut self, ts: u64, typ: EventType, args: &[u64]) -> Option<usize> {
        if self.data.is_empty() {
            self.base = ts;
            self.last = ts;
        }
        // The clock is monotonic; saturate rather than wrap if a caller's clock is not.
        let dt = ts.saturating_sub(self.last);
        let len = event_len(dt, args);
        if self.data.len() + len > CAP {
            return None;
        }
        self.push_raw(typ.0);
        self.push_uvarint(dt);
        for &a in args {
            self.push_uvarint(a);
        }
        self.last = self.last.max(ts);
        Some(len)
    }

    /// Appends raw bytes (structural batches: frequency, stacks, strings), or returns `false`.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> bool {
        self.data.extend_from_slice(bytes).is_ok()
    }

    /// Room left, in bytes.
    pub fn remaining(&self) -> usize {
        CAP - self.data.len()
    }

    pub fn push_uvarint(&mut self, value: u64) {
        let mut buf = [0; varint::MAX_LEN];
        let n = varint::encode(value, &mut buf);
        // Callers check the room first.
        let _ = self.data.extend_from_slice(&buf[..n]);
    }

    fn push_raw(&mut self, byte: u8) {
        let _ = self.data.push(byte);
    }

    /// Sets the base time of a structural batch (which has no timed events).
    pub fn set_base(&mut self, ts: u64) {
        self.base = ts;
        self.last = ts;
    }

    /// Hands the batch to `write` as header and payload, then empties it. Returns the bytes
    /// written.
    pub fn take(&mut self, gen: u64, m: u64, write: impl FnOnce(&[u8], &[u8])) -> usize {
        let mut header = [0u8; MAX_HEADER_LEN];
        header[0] = EventType::EVENT_BATCH.0;
        let mut n = 1;
        for v in [gen, m, self.base, self.data.len() as u64] {
            let mut buf = [0; varint::MAX_LEN];
            let k = varint::encode(v, &mut buf);
            header[n..n + k].copy_from_slice(&buf[..k]);
            n += k;
        }
        write(&header[..n], &self.data);
        let total = n + self.data.len();
        self.data.clear();
        total
    }
}

impl<const CAP: usize> Default for Batch<CAP> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_deltas_and_header_states_size() {
        let mut b = Batch::<64>::new();
        assert_eq!(b.push_event(100, EventType::PROC_START, &[0, 1]), Some(4));
        assert_eq!(b.push_event(300, EventType::PROC_STOP, &[]), Some(3));
        let mut out = std::vec::Vec::new();
        let n = b.take(1, 0, |h, p| {
            out.extend_from_slice(h);
            out.extend_from_slice(p);
        });
        assert_eq!(n, out.len());
        // EventBatch gen=1 m=0 time=100 size=7, ProcStart dt=0 p=0 seq=1, ProcStop dt=200.
        assert_eq!(out, [1, 1, 0, 100, 7, 10, 0, 0, 1, 11, 200, 1]);
        assert!(b.is_empty());
    }

    #[test]
    fn an_event_that_does_not_fit_is_refused_whole() {
        let mut b = Batch::<4>::new();
        assert_eq!(b.push_event(0, EventType::PROC_START, &[0, 1]), Some(4));
        assert_eq!(b.push_event(0, EventType::PROC_STOP, &[]), None);
        assert_eq!(b.len(), 4);
    }
}
