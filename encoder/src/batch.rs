//! One M's batch under construction: a fixed buffer of encoded events plus the batch's base time.
//!
//! Events are written as the type byte, the timestamp delta from the previous event of the same
//! batch (the first from the batch's base time), then each argument as a uvarint. The batch is
//! handed to the sink whole, prefixed by its `EventBatch` header (generation, M, base time, size).
//!
//! A batch always has a base time, even empty (set when the generation begins and when the batch
//! is handed over), and all batches' bases share the high 32-bit half, which the encoder keeps
//! once: when it sees the clock move to its next half, every batch is handed over and rebased (a
//! batch's last events may lie past the wrap already: their deltas carry them). So a batch
//! stores 32-bit times only, every delta is a 32-bit subtraction, and the hot path of
//! every traced event ([`Batch::try_packed`]) is a few compares and two word stores when the
//! delta and the sequence number take at most two bytes and the first argument one; the rest
//! goes out of line.

use gotrace_wire::{varint, EventType};

/// The longest `EventBatch` header: the type byte and four 10-byte varints.
pub const MAX_HEADER_LEN: usize = 1 + 4 * varint::MAX_LEN;

/// Room every event is given on the general path: the type byte, a delta and up to four
/// arguments of any size.
pub const MAX_EVENT_LEN: usize = 1 + 5 * varint::MAX_LEN;

/// Values below this take at most two varint bytes: the limit of [`Batch::try_packed`].
const SHORT: u32 = 1 << 14;

/// The varint encoding of `v` (under 2^14) as a little-endian word, and its length (1 or 2).
#[inline(always)]
fn short(v: u32) -> (u32, usize) {
    if v < 0x80 {
        (v, 1)
    } else {
        // The low 7 bits with the continuation bit, then the high 7 bits in the next byte.
        (v + 0x80 + (v & 0x3f80), 2)
    }
}

/// One event, in [`Batch::fill`].
const EVENT: u32 = 1 << 16;
/// The bytes, in [`Batch::fill`].
const BYTES: u32 = EVENT - 1;

/// A batch buffer holding up to `CAP` (under 2^16: the encoder checks) bytes of payload.
pub struct Batch<const CAP: usize> {
    data: [u8; CAP],
    /// The bytes written (low 16 bits) and the events among them (high 16 bits): one word, so
    /// that counting an event costs the inline path nothing of its own.
    fill: u32,
    /// The low half of the batch's base time (the header's timestamp).
    base_low: u32,
    /// The low half of the time of the batch's last event (of its base while empty).
    last_low: u32,
}

impl<const CAP: usize> Batch<CAP> {
    pub const fn new() -> Self {
        Batch {
            data: [0; CAP],
            fill: 0,
            base_low: 0,
            last_low: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes written so far.
    pub fn len(&self) -> usize {
        (self.fill & BYTES) as usize
    }

    /// The timed events written so far.
    pub fn events(&self) -> u32 {
        self.fill >> 16
    }

    fn set_len(&mut self, len: usize) {
        self.fill = self.fill & !BYTES | len as u32 & BYTES;
    }

    /// Whether [`MAX_EVENT_LEN`] bytes are free.
    pub fn fits(&self) -> bool {
        self.remaining() >= MAX_EVENT_LEN
    }

    /// The reading of its base time: the clock's low half when the batch began.
    pub fn base(&self) -> u32 {
        self.base_low
    }

    /// The reading of its last event (of its base while empty).
    pub fn last(&self) -> u32 {
        self.last_low
    }

    /// The latest reading of the batch in the clock's half it began in: a later reading below it
    /// means the counter wrapped. That is its last event's, unless the inline path wrote that
    /// event after a wrap (below the base: the encoder hands over a batch before it spans half a
    /// wrap); then its base, which a reading after the wrap is below.
    pub fn before_wrap(&self) -> u32 {
        self.last_low.max(self.base_low)
    }

    /// Sets the base time of the (empty) batch, in the current half of the clock: no event of
    /// it comes earlier.
    pub fn rebase(&mut self, low: u32) {
        self.base_low = low;
        self.last_low = low;
    }

    /// Appends, if it can do so with two stores, a timed event at the raw clock reading `low`
    /// with `n` (0, 2 or 3) arguments: `a`, `b`, then a zero (`a` and `b` are 0 when `n` does
    /// not cover them). That is: the reading is less than 2^14 ticks after the batch's last
    /// event (a reading just past a wrap passes too: [`Batch::before_wrap`] then tells the
    /// encoder), `b` (a sequence number) is under 2^14 (one or two varint bytes), `a` (a
    /// goroutine, an executor, a reason: under 2^16 always) is under 128, and 8 bytes are free.
    /// Returns whether it did.
    #[inline(always)]
    pub fn try_packed(&mut self, low: u32, typ: EventType, a: u32, b: u32, n: usize) -> bool {
        debug_assert!(a < 1 << 16, "the encoder's arguments fit 16 bits");
        let len = self.len();
        let dt = low.wrapping_sub(self.last_low);
        // One compare for all three limits: `a << 7` is under 2^14 exactly when `a` is under 128.
        if (dt | b | a << 7) >= SHORT {
            return false;
        }
        let Some(window) = self.data.get_mut(len..len + 8) else {
            return false;
        };
        let (dt, dt_len) = short(dt);
        // The type and the delta, then the arguments (and the zero after them) right after.
        window[..4].copy_from_slice(&(u32::from(typ.0) | dt << 8).to_le_bytes());
        // The event's bytes: the type, the delta, then `n` one-byte arguments of which `b` may
        // take a second byte (`n` is a constant at each call site).
        let mut size = 1 + n as u32 + dt_len as u32;
        if n > 0 {
            let (b, b_len) = short(b);
            if let Some(dst) = window.get_mut(1 + dt_len..5 + dt_len) {
                dst.copy_from_slice(&(a | b << 8).to_le_bytes());
            }
            size += b_len as u32 - 1;
        }
        // The event counted and its bytes added in one word.
        self.fill += EVENT + size;
        self.last_low = low;
        true
    }

    /// Appends a timed event at the raw reading `low` (at most half a wrap after the batch's base:
    /// its delta is a wrapping subtraction) with the varint arguments `args` (at most 4). The
    /// caller has checked that [`MAX_EVENT_LEN`] bytes are free.
    pub fn event(&mut self, low: u32, typ: EventType, args: &[u64]) {
        let dt = low.wrapping_sub(self.last_low);
        self.last_low = low;
        self.fill += EVENT;
        self.put_byte(typ.0);
        self.put(u64::from(dt));
        for &a in args {
            self.put(a);
        }
    }

    /// Appends `value` as a uvarint (the callers check the room first).
    pub fn put(&mut self, value: u64) {
        let len = self.len();
        let len = varint::put(&mut self.data, len, value);
        self.set_len(len);
    }

    fn put_byte(&mut self, byte: u8) {
        self.push_bytes(&[byte]);
    }

    /// Appends raw bytes; bytes that do not fit are left out (the callers check the room first,
    /// so this never happens).
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        let len = self.len();
        if let Some(dst) = self.data.get_mut(len..len + bytes.len()) {
            dst.copy_from_slice(bytes);
            self.set_len(len + bytes.len());
        }
    }

    /// Room left, in bytes.
    pub fn remaining(&self) -> usize {
        CAP.saturating_sub(self.len())
    }

    /// Hands the batch to `write` as header and payload, then empties it; `high` is the high
    /// half of its base time (its events' deltas carry them past a wrap). Returns the bytes
    /// written.
    pub fn take(&mut self, gen: u32, m: u64, high: u32, write: impl FnOnce(&[u8], &[u8])) -> usize {
        let mut header = [EventType::EVENT_BATCH.0; MAX_HEADER_LEN];
        let mut len = 1;
        let base = u64::from(high) << 32 | u64::from(self.base_low);
        let size = self.len();
        for v in [u64::from(gen), m, base, size as u64] {
            len = varint::put(&mut header, len, v);
        }
        let header = header.get(..len).unwrap_or_default();
        let payload = self.data.get(..size).unwrap_or_default();
        write(header, payload);
        self.fill = 0;
        header.len() + size
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

    fn bytes<const CAP: usize>(b: &mut Batch<CAP>, gen: u32, m: u64) -> std::vec::Vec<u8> {
        let mut out = std::vec::Vec::new();
        let n = b.take(gen, m, 0, |h, p| {
            out.extend_from_slice(h);
            out.extend_from_slice(p);
        });
        assert_eq!(n, out.len());
        out
    }

    #[test]
    fn events_carry_deltas_and_header_states_size() {
        let mut b = Batch::<64>::new();
        b.rebase(100);
        assert!(b.try_packed(100, EventType::PROC_START, 0, 1, 2));
        assert!(
            b.try_packed(300, EventType::PROC_STOP, 0, 0, 0),
            "delta 200: two bytes"
        );
        assert_eq!((b.len(), b.events()), (7, 2));
        // EventBatch gen=1 m=0 time=100 size=7, ProcStart dt=0 p=0 seq=1, ProcStop dt=200.
        assert_eq!(
            bytes(&mut b, 1, 0),
            [1, 1, 0, 100, 7, 10, 0, 0, 1, 11, 200, 1]
        );
        assert!(b.is_empty());
        assert_eq!(b.events(), 0);
    }

    #[test]
    fn packed_and_general_events_encode_alike() {
        let mut fast = Batch::<64>::new();
        let mut slow = Batch::<64>::new();
        fast.rebase(5);
        slow.rebase(5);
        for (i, (a, b)) in [(0, 127), (127, 0), (5, 6)].into_iter().enumerate() {
            let low = 10 + 100 * i as u32;
            assert!(fast.try_packed(low, EventType::GO_UNBLOCK, a, b, 3));
            slow.event(low, EventType::GO_UNBLOCK, &[a.into(), b.into(), 0]);
        }
        assert_eq!(bytes(&mut fast, 1, 0), bytes(&mut slow, 1, 0));
    }

    #[test]
    fn two_byte_values_encode_alike_on_both_paths() {
        let mut fast = Batch::<64>::new();
        let mut slow = Batch::<64>::new();
        fast.rebase(5);
        slow.rebase(5);
        let cases = [
            (0, 127, 3, 0),
            (1, 16383, 3, 300),
            (127, 200, 2, 16000),
            (0, 0, 0, 129),
        ];
        let mut low = 5;
        for (a, b, n, dt) in cases {
            low += dt;
            assert!(fast.try_packed(low, EventType::GO_UNBLOCK, a, b, n));
            let args = [a.into(), b.into(), 0];
            slow.event(low, EventType::GO_UNBLOCK, &args[..n]);
        }
        assert!(!fast.try_packed(low, EventType::GO_START, 1, 1 << 14, 2));
        assert!(!fast.try_packed(low + (1 << 14), EventType::PROC_STOP, 0, 0, 0));
        assert_eq!(bytes(&mut fast, 1, 0), bytes(&mut slow, 1, 0));
    }

    #[test]
    fn a_batch_that_crossed_a_wrap_inline_keeps_its_reading_from_before() {
        let mut b = Batch::<16>::new();
        b.rebase(u32::MAX - 0xff);
        assert!(b.try_packed(u32::MAX - 0x10, EventType::PROC_STOP, 0, 0, 0));
        assert_eq!(b.before_wrap(), u32::MAX - 0x10);
        assert!(
            b.try_packed(0x10, EventType::PROC_STOP, 0, 0, 0),
            "0x21 ticks later"
        );
        assert_eq!(
            b.before_wrap(),
            u32::MAX - 0xff,
            "the base, above any reading after the wrap"
        );
    }

    #[test]
    fn the_packed_path_refuses_what_it_cannot_write() {
        let mut b = Batch::<16>::new();
        b.rebase(5);
        assert!(
            !b.try_packed(4, EventType::PROC_STOP, 0, 0, 0),
            "a smaller reading: the clock wrapped"
        );
        assert!(
            !b.try_packed(6, EventType::GO_START, 128, 0, 2),
            "long first argument"
        );
        assert!(b.try_packed(6, EventType::GO_START, 1, 2, 2));
        assert!(b.try_packed(7, EventType::GO_START, 1, 3, 2));
        assert!(b.try_packed(8, EventType::GO_START, 1, 4, 2));
        assert!(
            !b.try_packed(9, EventType::GO_START, 1, 5, 2),
            "4 bytes free, not 8"
        );
        assert_eq!(b.len(), 12);
        assert_eq!(b.before_wrap(), 8, "the last event's reading");
        assert!(!b.fits(), "no room for the general path");
    }

    #[test]
    fn the_packed_path_refuses_two_long_values_at_once() {
        let mut b = Batch::<64>::new();
        b.rebase(0);
        // Each pair shares its bits from 2^14 up: a check that lets them cancel out packs a
        // three-byte value into two bytes.
        assert!(
            !b.try_packed(1 << 14, EventType::GO_START, 1, 1 << 14, 2),
            "a long delta and a long sequence number"
        );
        assert!(
            !b.try_packed(1, EventType::GO_START, 128, 1 << 14, 2),
            "a long goroutine and a long sequence number"
        );
        assert!(
            !b.try_packed((1 << 14) + 1, EventType::GO_STOP, 128, 0, 2),
            "a long delta and a long reason"
        );
        assert!(b.is_empty());
    }

    #[test]
    fn long_values_take_several_bytes() {
        let mut b = Batch::<64>::new();
        b.rebase(0);
        b.event(5, EventType::PROC_STOP, &[u64::MAX, 0x80]);
        let out = bytes(&mut b, 1, 0);
        let payload = &out[out.len() - 14..];
        assert_eq!(payload[..2], [EventType::PROC_STOP.0, 5]);
        assert_eq!(varint::decode(&payload[2..]), Ok((u64::MAX, 10)));
        assert_eq!(payload[12..], [0x80, 1]);
    }
}
