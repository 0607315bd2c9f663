//! Timestamps: the clock the encoder reads, and its extension to the format's 64 bits.
//!
//! Go's format wants monotonic 64-bit timestamps in ticks of a stated frequency. Microcontroller
//! counters (DWT CYCCNT, a free-running timer; SysTick's own count, 24 bits counting down, is
//! none) are 32 bits wide and wrap within seconds, so a clock hands the encoder its raw wrapping
//! 32-bit reading. The encoder keeps the high half once (a reading smaller than the latest one
//! it has seen means one wrap; see `Encoder::extend`), so an event's delta is one 32-bit
//! subtraction, correct as long as the counter is read out of line (by any event but the six
//! scheduling events' inline path, a batch handed over, a generation boundary) less than half a
//! wrap period apart while tracing. Half, not a whole wrap: an inline event judges only its own
//! context's batch, whose base an out-of-line reading refreshes once it is half a wrap old; a
//! context silent for a wrap, after readings at most once per wrap, could write its next event
//! inline as if no wrap had passed (a review's case, a time 2^32 ticks early in a trace Go
//! accepts). A timer that ends generations below half a wrap guarantees it. [`Coarse`] extends
//! its inner clock the same way, here.

/// A source of timestamps.
///
/// The encoder reads its clock only while tracing, from [`crate::Encoder::start`] until
/// [`crate::Encoder::stop`] returns: a clock may be made ready after the encoder (in a `static`,
/// say) as long as it is ready before tracing starts.
pub trait Clock {
    /// The current time in ticks, as a free-running counter that wraps from `u32::MAX` to 0.
    fn now(&mut self) -> u32;
    /// Ticks per second, written as each generation's `Frequency` event.
    fn frequency(&self) -> u64;
}

/// The 64-bit extension of a wrapping 32-bit counter: the count of wraps seen, and the last
/// reading.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Extended {
    high: u32,
    raw: u32,
}

impl Extended {
    pub const fn new() -> Self {
        Extended { high: 0, raw: 0 }
    }

    /// The high and low halves of the time of the raw reading `raw`, taken less than one wrap
    /// period after the previous reading: a smaller reading means the counter wrapped once.
    #[inline(always)]
    pub fn halves(&mut self, raw: u32) -> (u32, u32) {
        if raw < self.raw {
            self.high = self.high.wrapping_add(1);
        }
        self.raw = raw;
        (self.high, raw)
    }

    /// The 64-bit time of the raw reading `raw` (see [`Extended::halves`]).
    pub fn extend(&mut self, raw: u32) -> u64 {
        let (high, low) = self.halves(raw);
        join(high, low)
    }
}

/// The readings of the clock taken while a sink had no room for a batch, not yet applied to the
/// encoder's extension: the wraps they saw and the last of them, counted as [`Extended`] counts,
/// from the latest reading before the wait. The encoder applies them at its next extension
/// (`Encoder::extend`), before any event after the wait is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Waited {
    pending: bool,
    since: Extended,
}

impl Waited {
    pub const fn new() -> Self {
        Waited {
            pending: false,
            since: Extended::new(),
        }
    }

    /// Whether readings are waiting to be applied.
    pub fn is_pending(&self) -> bool {
        self.pending
    }

    /// Counts the reading `raw`, taken while a sink waits. `latest`, the latest reading the
    /// encoder had, starts the count when none is pending (a wrap is a reading below it); once
    /// one is, the count goes on from its last reading.
    pub fn observe(&mut self, raw: u32, latest: u32) {
        if !self.pending {
            self.pending = true;
            self.since = Extended {
                high: 0,
                raw: latest,
            };
        }
        self.since.halves(raw);
    }

    /// The wraps seen and the last reading, if readings are pending; none are after this.
    pub fn take(&mut self) -> Option<(u32, u32)> {
        let pending = core::mem::replace(&mut self.pending, false);
        pending.then_some((self.since.high, self.since.raw))
    }
}

/// A 64-bit time from its halves.
#[inline(always)]
pub(crate) fn join(high: u32, low: u32) -> u64 {
    u64::from(high) << 32 | u64::from(low)
}

/// A [`Clock`] that counts in units of `2^shift` ticks of another: coarser timestamps make
/// smaller deltas (one varint byte up to 127 units), the main lever on trace size. Go's runtime
/// does the same (64 ns units). At 64 MHz, a shift of 6 gives 1 µs resolution.
///
/// It extends its inner counter itself, so the reading at least once per half wrap that the
/// encoder needs is per half wrap of the inner counter (33 s at 64 MHz), not of the coarse units
/// (35 minutes at 1 µs).
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Coarse<C> {
    inner: C,
    shift: u32,
    // Shifting the raw reading would wrap at 2^(32-shift): shift the extended time instead.
    extended: Extended,
}

impl<C> Coarse<C> {
    /// `inner` counted in units of `2^shift` of its ticks.
    ///
    /// # Panics
    ///
    /// If `shift` is 64 or more: checked here (at build time for a `static`) rather than by a
    /// shift that overflows at the first reading, inside the encoder's critical section.
    pub const fn new(inner: C, shift: u32) -> Self {
        assert!(shift < 64, "a clock's shift must be below 64");
        Coarse {
            inner,
            shift,
            extended: Extended::new(),
        }
    }
}

impl<C: Clock> Clock for Coarse<C> {
    fn now(&mut self) -> u32 {
        (self.extended.extend(self.inner.now()) >> self.shift) as u32
    }

    fn frequency(&self) -> u64 {
        (self.inner.frequency() >> self.shift).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_counts_its_wraps_from_the_reading_before_it() {
        let mut waited = Waited::new();
        assert_eq!(waited.take(), None, "no wait yet");
        // From 3000 on: 10 is past a wrap, 5 past another, 7 not.
        waited.observe(10, 3000);
        waited.observe(5, 3000);
        waited.observe(7, 0);
        assert!(waited.is_pending());
        assert_eq!(waited.take(), Some((2, 7)));
        assert_eq!(waited.take(), None, "taken once");
        // A new wait counts from the reading given then, not from the last one.
        waited.observe(8, 9);
        assert_eq!(waited.take(), Some((1, 8)));
    }

    #[test]
    fn extension_counts_wraps_and_stays_monotonic() {
        let mut ext = Extended::new();
        assert_eq!(ext.extend(10), 10);
        assert_eq!(ext.extend(u32::MAX), u64::from(u32::MAX));
        assert_eq!(ext.extend(5), (1 << 32) + 5);
        assert_eq!(
            ext.extend(5),
            (1 << 32) + 5,
            "an equal reading is not a wrap"
        );
        assert_eq!(ext.extend(4), (2 << 32) + 4);
    }

    struct Fixed(u32);

    impl Clock for Fixed {
        fn now(&mut self) -> u32 {
            self.0
        }

        fn frequency(&self) -> u64 {
            64_000_000
        }
    }

    #[test]
    fn coarse_clock_divides_time_and_frequency_alike() {
        let mut c = Coarse::new(Fixed(6400), 6);
        assert_eq!(c.now(), 100);
        assert_eq!(c.frequency(), 1_000_000);
    }

    #[test]
    fn coarse_clock_carries_across_the_inner_wrap() {
        let mut c = Coarse::new(Fixed(u32::MAX - 63), 6);
        let before = c.now();
        c.inner.0 = 64;
        assert_eq!(c.now(), before + 2);
    }

    #[test]
    fn coarse_clock_takes_the_widest_shift_and_refuses_a_wider_one() {
        let mut widest = Coarse::new(Fixed(u32::MAX), 63);
        assert_eq!(widest.now(), 0);
        assert_eq!(widest.frequency(), 1);
        let refused = std::panic::catch_unwind(|| Coarse::new(Fixed(0), 64));
        assert!(refused.is_err(), "a shift of 64 was taken");
    }
}
