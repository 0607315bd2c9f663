//! Timestamps: the clock the encoder reads, and the 64-bit extension of a wrapping 32-bit counter.
//!
//! Go's format wants monotonic 64-bit timestamps in ticks of a stated frequency. Microcontroller
//! counters (DWT CYCCNT, a SysTick-driven count, a free-running timer) are usually 32 bits wide
//! and wrap within seconds, so they are extended in software: as long as the counter is read at
//! least once per wrap period (every traced event reads it), the extension never misses a wrap.

/// A source of timestamps.
pub trait Clock {
    /// The current time in ticks. Must never go backwards.
    fn now(&mut self) -> u64;
    /// Ticks per second, written as each generation's `Frequency` event.
    fn frequency(&self) -> u64;
}

/// Extends a wrapping 32-bit counter to 64 bits.
///
/// Call [`Extend32::extend`] with every raw reading; a reading smaller than the previous one
/// means the counter wrapped once. Readings must come at least once per wrap period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extend32 {
    high: u32,
    last: u32,
}

impl Extend32 {
    pub const fn new() -> Self {
        Extend32 { high: 0, last: 0 }
    }

    /// The 64-bit time of the raw reading `raw`.
    pub fn extend(&mut self, raw: u32) -> u64 {
        if raw < self.last {
            self.high = self.high.wrapping_add(1);
        }
        self.last = raw;
        (u64::from(self.high) << 32) | u64::from(raw)
    }
}

/// A [`Clock`] over a wrapping 32-bit hardware counter read by a function (for example DWT
/// CYCCNT, or a timer's count register).
pub struct Counter32Clock {
    read: fn() -> u32,
    frequency: u64,
    extend: Extend32,
}

impl Counter32Clock {
    /// `read` returns the raw counter; `frequency` is its rate in ticks per second.
    pub const fn new(read: fn() -> u32, frequency: u64) -> Self {
        Counter32Clock {
            read,
            frequency,
            extend: Extend32::new(),
        }
    }
}

impl Clock for Counter32Clock {
    fn now(&mut self) -> u64 {
        self.extend.extend((self.read)())
    }

    fn frequency(&self) -> u64 {
        self.frequency
    }
}

/// A [`Clock`] that counts in units of `2^shift` ticks of another: coarser timestamps make
/// smaller deltas (one varint byte up to 127 units), the main lever on trace size. Go's runtime
/// does the same (64 ns units). At 64 MHz, a shift of 6 gives 1 µs resolution.
pub struct Coarse<C> {
    inner: C,
    shift: u32,
}

impl<C> Coarse<C> {
    pub const fn new(inner: C, shift: u32) -> Self {
        Coarse { inner, shift }
    }
}

impl<C: Clock> Clock for Coarse<C> {
    fn now(&mut self) -> u64 {
        self.inner.now() >> self.shift
    }

    fn frequency(&self) -> u64 {
        (self.inner.frequency() >> self.shift).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_counts_wraps_and_stays_monotonic() {
        let mut ext = Extend32::new();
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

    struct Fixed(u64);

    impl Clock for Fixed {
        fn now(&mut self) -> u64 {
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
}
