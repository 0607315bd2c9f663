//! The trace clock, chosen at start-up: DWT CYCCNT where it counts, else the board's free-running
//! timer.
//!
//! QEMU models no cycle counter (CYCCNT reads stay still), and some cores have none, so the
//! firmware starts CYCCNT, spins, and looks. Where it stays still, the board supplies a 32-bit
//! hardware counter that runs by itself (see [`crate::board::start_timer_counter`]); on the MPS2
//! boards that is a CMSDK APB timer counting down, whose complement counts up and wraps at 2^32
//! like CYCCNT. So a reading is always one load of a counter register XORed with a mask (0 for an
//! up-counter, all ones for a down-counter): no branch on the source, no wrap interrupt to keep,
//! and the encoder extends the wrapping count to 64 bits itself.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{DCB, DWT};
use gotrace_encoder::Clock;
use gotrace_rtt_protocol::ClockSource;

/// A free-running 32-bit hardware counter, read as `*register ^ mask`.
#[derive(Debug, Clone, Copy)]
pub struct Counter {
    pub register: *const u32,
    /// All ones for a counter that counts down, so that readings grow.
    pub mask: u32,
    /// Counts per second.
    pub hz: u32,
    pub source: ClockSource,
}

/// DWT's cycle counter register (CYCCNT).
const CYCCNT: usize = 0xE000_1004;

/// The chosen counter as every reading uses it: the register, then the mask.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct Reading {
    register: *const u32,
    mask: u32,
}

/// Written once by [`init`], in thread mode before the interrupts that read the clock run;
/// only read after. Read as one plain 8-byte value, so that a reading loads both words with one
/// address and one `ldrd` (a volatile read of it is split into two loads, one instruction more
/// per timestamp); nothing changes it after `init`, so nothing is lost if the compiler reuses a
/// value it has loaded.
struct Chosen(UnsafeCell<Reading>);

// SAFETY: see `Chosen`: one write at start-up, reads only after it.
unsafe impl Sync for Chosen {}

static CHOSEN: Chosen = Chosen(UnsafeCell::new(Reading {
    // Before `init`, CYCCNT: present on every core this firmware builds for, harmless to read.
    register: CYCCNT as *const u32,
    mask: 0,
}));
static HZ: AtomicU32 = AtomicU32::new(crate::board::CPU_HZ);

/// Picks the trace clock: CYCCNT if it counts, else the board's timer. `None`: neither counts.
pub fn init(dcb: &mut DCB, dwt: &mut DWT) -> Option<ClockSource> {
    dcb.enable_trace();
    let cycles = Counter {
        register: CYCCNT as *const u32,
        mask: 0,
        hz: crate::board::CPU_HZ,
        source: ClockSource::DwtCycles,
    };
    let counter = if DWT::has_cycle_counter() {
        dwt.enable_cycle_counter();
        Some(cycles).filter(counts)
    } else {
        None
    };
    let counter = counter.or_else(|| crate::board::start_timer_counter().filter(counts))?;
    // SAFETY: start-up, before anything reads the clock concurrently (see `Chosen`).
    unsafe {
        CHOSEN.0.get().write_volatile(Reading {
            register: counter.register,
            mask: counter.mask,
        });
    }
    HZ.store(counter.hz, Ordering::Relaxed);
    Some(counter.source)
}

/// Whether `counter` moves forward while the core spins.
fn counts(counter: &Counter) -> bool {
    // SAFETY: the register is a counter of this board's memory map, readable at any time.
    let read = || unsafe { counter.register.read_volatile() } ^ counter.mask;
    let before = read();
    cortex_m::asm::delay(1000);
    let moved = read().wrapping_sub(before);
    moved != 0 && moved < u32::MAX / 2
}

/// A raw 32-bit tick count of the chosen counter: the trace clock, and busy waits.
#[inline]
pub fn raw_ticks() -> u32 {
    // SAFETY: see `Chosen`; the register is CYCCNT or the counter `init` checked, and reading
    // it has no effect.
    unsafe {
        let reading = CHOSEN.0.get().read();
        reading.register.read_volatile() ^ reading.mask
    }
}

/// Ticks per second of [`raw_ticks`].
pub fn hz() -> u32 {
    HZ.load(Ordering::Relaxed)
}

/// Ticks of [`raw_ticks`] in `us` microseconds.
pub fn ticks_in_us(us: u32) -> u32 {
    (u64::from(us) * u64::from(hz()) / 1_000_000) as u32
}

/// Busy-waits `ticks` ticks of the trace clock.
pub fn spin(ticks: u32) {
    let start = raw_ticks();
    while raw_ticks().wrapping_sub(start) < ticks {}
}

/// The encoder's clock: whichever counter `init` picked, as the encoder's own copy of the
/// reading ([`TraceClock::chosen`]). A timestamp then loads the register and mask relative to the
/// encoder, whose address the scheduler's code holds anyway, instead of first loading the
/// address of `CHOSEN` (two instructions per event fewer, 48 bytes of flash less, for 8 bytes
/// of RAM in the encoder; `CHOSEN` stays, for the readings outside the scheduler's lock).
#[derive(Clone, Copy)]
pub struct TraceClock(Reading);

// SAFETY: the register is a counter of this board's memory map, readable from any context.
unsafe impl Send for TraceClock {}

impl TraceClock {
    /// No counter yet: all zeros, so that the scheduler's static, which holds it, stays in
    /// `.bss` (a counter's address there would move all of its 2 KB into `.data`, flash).
    ///
    /// # Safety
    ///
    /// It is not read: the caller replaces it with [`TraceClock::chosen`] before the encoder
    /// reads its clock (the encoder reads it only while tracing, from the start of a trace on).
    pub const unsafe fn unset() -> TraceClock {
        TraceClock(Reading {
            register: core::ptr::null(),
            mask: 0,
        })
    }

    /// The counter [`init`] picked.
    pub fn chosen() -> TraceClock {
        // SAFETY: see `Chosen`.
        TraceClock(unsafe { CHOSEN.0.get().read() })
    }
}

impl Clock for TraceClock {
    #[inline]
    fn now(&mut self) -> u32 {
        // SAFETY: a `TraceClock` read is `chosen`'s (see `raw_ticks`), or `unset`'s, whose
        // caller promised that it is replaced before any reading.
        unsafe { self.0.register.read_volatile() ^ self.0.mask }
    }

    fn frequency(&self) -> u64 {
        u64::from(hz())
    }
}
