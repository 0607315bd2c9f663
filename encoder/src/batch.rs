//! One M's batch under construction: a fixed buffer of encoded events plus the batch's base time.
//!
//! Events are written as the type byte, the timestamp delta from the previous event of the same
//! batch (the first from the batch's base time), then each argument as a uvarint. The batch is
//! handed to the sink whole, prefixed by its `EventBatch` header (generation, M, base time, size).
//!
//! This is the hot path of every traced event, so it writes straight into the buffer: the caller
//! makes sure once per event that [`MAX_EVENT_LEN`] bytes are free. An event whose delta and
//! arguments each fit one byte (most do) is one 8-byte store of the packed bytes; longer
//! encodings go out of line. Times come as the two 32-bit halves of the 64-bit time, so the
//! common delta is a 32-bit subtraction.

use gotrace_wire::{varint, EventType};

use crate::clock::join;

/// The longest `EventBatch` header: the type byte and four 10-byte varints.
pub const MAX_HEADER_LEN: usize = 1 + 4 * varint::MAX_LEN;

/// Room every event is given: the type byte, a delta and up to four arguments of any size.
pub const MAX_EVENT_LEN: usize = 1 + 5 * varint::MAX_LEN;

/// Values below this take at most two varint bytes: the fast path of [`Batch::event`].
const SHORT: u64 = 1 << 14;
/// The part of the buffer the fast path writes into: type, three two-byte varints, a zero, and
/// the byte a two-byte store may spill over.
const WINDOW: usize = 9;
const _: () = assert!(WINDOW <= MAX_EVENT_LEN);

/// Writes `v` (under 2^14) as a varint at `pos` with one two-byte store, returning the position
/// after it. A one-byte varint leaves a zero after it, overwritten by what follows.
#[inline(always)]
fn put_short(window: &mut [u8; WINDOW], pos: usize, v: u32) -> usize {
    let long = v >= 0x80;
    let encoded = (v & 0x7f) | u32::from(long) << 7 | (v >> 7) << 8;
    window[pos..pos + 2].copy_from_slice(&(encoded as u16).to_le_bytes());
    pos + 1 + usize::from(long)
}

/// A batch buffer holding up to `CAP` bytes of payload.
pub struct Batch<const CAP: usize> {
    data: [u8; CAP],
    len: usize,
    base: u64,
    /// The time of the batch's last event, as halves.
    last_high: u32,
    last_low: u32,
}

impl<const CAP: usize> Batch<CAP> {
    pub const fn new() -> Self {
        Batch {
            data: [0; CAP],
            len: 0,
            base: 0,
            last_high: 0,
            last_low: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Room left, in bytes.
    pub fn remaining(&self) -> usize {
        CAP - self.len
    }

    /// Appends a timed event at time `(high, low)` (never earlier than the batch's previous
    /// event) with `n` (at most 3) arguments: `a`, `b`, then zeros (`a` and `b` are 0 when `n`
    /// does not cover them). The caller has checked that [`MAX_EVENT_LEN`] bytes are free. When
    /// the delta and both arguments are under 128 this is one store of the packed bytes; under
    /// 2^14 (one or two varint bytes each) a few stores into a window of the buffer.
    #[inline(always)]
    pub fn event(&mut self, high: u32, low: u32, typ: EventType, a: u64, b: u32, n: usize) {
        let len = self.len;
        if len == 0 {
            self.set_base(join(high, low));
        }
        let dt = low.wrapping_sub(self.last_low);
        let values = dt | b;
        if high == self.last_high && values < SHORT as u32 && a < SHORT {
            let window: &mut [u8; WINDOW] = (&mut self.data[len..len + WINDOW])
                .try_into()
                .expect("the caller checked the room");
            if values < 0x80 && a < 0x80 {
                // Every byte of the event in one store; a third argument is the zero after `b`.
                let packed = u64::from(typ.0) | u64::from(dt) << 8 | a << 16 | u64::from(b) << 24;
                window[..8].copy_from_slice(&packed.to_le_bytes());
                self.len = len + 2 + n;
                self.last_low = low;
                return;
            }
            window[0] = typ.0;
            let mut pos = put_short(window, 1, dt);
            if n >= 1 {
                pos = put_short(window, pos, a as u32);
            }
            if n >= 2 {
                pos = put_short(window, pos, b);
            }
            if n >= 3 {
                window[pos] = 0;
                pos += 1;
            }
            self.len = len + pos;
            self.last_low = low;
        } else {
            self.event_args(high, low, typ, &[a, u64::from(b), 0][..n]);
        }
    }

    /// Appends a timed event at time `(high, low)` with the varint arguments `args` (at most 4).
    /// The caller has checked that [`MAX_EVENT_LEN`] bytes are free.
    #[inline(never)]
    pub fn event_args(&mut self, high: u32, low: u32, typ: EventType, args: &[u64]) {
        if self.len == 0 {
            self.set_base(join(high, low));
        }
        let dt = join(high, low) - join(self.last_high, self.last_low);
        self.last_high = high;
        self.last_low = low;
        self.put_byte(typ.0);
        self.put(dt);
        for &a in args {
            self.put(a);
        }
    }

    /// Appends `value` as a uvarint.
    #[inline]
    pub fn put(&mut self, value: u64) {
        if value < 0x80 {
            self.put_byte(value as u8);
        } else {
            self.put_long(value);
        }
    }

    #[inline(never)]
    fn put_long(&mut self, value: u64) {
        let mut buf = [0; varint::MAX_LEN];
        let n = varint::encode(value, &mut buf);
        self.push_bytes(&buf[..n]);
    }

    #[inline]
    fn put_byte(&mut self, byte: u8) {
        self.data[self.len] = byte;
        self.len += 1;
    }

    /// Appends raw bytes (structural batches: frequency, stacks, strings); the caller has checked
    /// the room.
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        self.data[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Sets the base time of the batch, before its first event.
    pub fn set_base(&mut self, ts: u64) {
        self.base = ts;
        self.last_high = (ts >> 32) as u32;
        self.last_low = ts as u32;
    }

    /// Hands the batch to `write` as header and payload, then empties it. Returns the bytes
    /// written.
    pub fn take(&mut self, gen: u64, m: u64, write: impl FnOnce(&[u8], &[u8])) -> usize {
        let mut header = Batch::<MAX_HEADER_LEN>::new();
        header.put_byte(EventType::EVENT_BATCH.0);
        for v in [gen, m, self.base, self.len as u64] {
            header.put(v);
        }
        write(&header.data[..header.len], &self.data[..self.len]);
        let total = header.len + self.len;
        self.len = 0;
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

    fn bytes<const CAP: usize>(b: &mut Batch<CAP>, gen: u64, m: u64) -> std::vec::Vec<u8> {
        let mut out = std::vec::Vec::new();
        let n = b.take(gen, m, |h, p| {
            out.extend_from_slice(h);
            out.extend_from_slice(p);
        });
        assert_eq!(n, out.len());
        out
    }

    #[test]
    fn events_carry_deltas_and_header_states_size() {
        let mut b = Batch::<64>::new();
        b.event(0, 100, EventType::PROC_START, 0, 1, 2);
        b.event(0, 300, EventType::PROC_STOP, 0, 0, 0);
        // EventBatch gen=1 m=0 time=100 size=7, ProcStart dt=0 p=0 seq=1, ProcStop dt=200.
        assert_eq!(
            bytes(&mut b, 1, 0),
            [1, 1, 0, 100, 7, 10, 0, 0, 1, 11, 200, 1]
        );
        assert!(b.is_empty());
    }

    #[test]
    fn short_and_long_arguments_encode_alike() {
        let mut fast = Batch::<64>::new();
        let mut slow = Batch::<64>::new();
        let cases = [(0, 127), (128, 16383), (16384, u32::MAX), (1 << 40, 5)];
        for (i, (a, b)) in cases.into_iter().enumerate() {
            let low = 10 + 200 * i as u32;
            fast.event(0, low, EventType::GO_UNBLOCK, a, b, 3);
            slow.event_args(0, low, EventType::GO_UNBLOCK, &[a, b.into(), 0]);
        }
        assert_eq!(bytes(&mut fast, 1, 0), bytes(&mut slow, 1, 0));
    }

    #[test]
    fn deltas_across_a_counter_wrap_are_exact() {
        let mut b = Batch::<64>::new();
        b.event(0, u32::MAX - 1, EventType::PROC_STOP, 0, 0, 0);
        b.event(1, 3, EventType::PROC_STOP, 0, 0, 0);
        b.event(1, 4, EventType::GO_START, 7, 2, 2);
        b.event_args(3, 4, EventType::PROC_STOP, &[]);
        let out = bytes(&mut b, 1, 0);
        let payload = &out[out.len() - 14..];
        let (stop, start) = (EventType::PROC_STOP.0, EventType::GO_START.0);
        // dt 5 across the wrap, then 1, then two whole wraps (2^33).
        assert_eq!(
            payload,
            [stop, 0, stop, 5, start, 1, 7, 2, stop, 0x80, 0x80, 0x80, 0x80, 0x20]
        );
        assert!(b.is_empty());
    }

    #[test]
    fn long_values_take_several_bytes() {
        let mut b = Batch::<64>::new();
        b.event_args(0, 5, EventType::PROC_STOP, &[u64::MAX, 0x80]);
        let out = bytes(&mut b, 1, 0);
        let payload = &out[out.len() - 14..];
        assert_eq!(payload[..2], [EventType::PROC_STOP.0, 0]);
        assert_eq!(varint::decode(&payload[2..]), Ok((u64::MAX, 10)));
        assert_eq!(payload[12..], [0x80, 1]);
    }
}
