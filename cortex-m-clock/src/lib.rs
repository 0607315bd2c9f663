//! The trace clock for gotrace on Cortex-M, chosen at start-up: DWT CYCCNT where it counts, else a
//! free-running 32-bit counter of the board ([`Counters`]; the MPS2 boards' CMSDK APB timer 0 is
//! ready-made: [`Mps2`]).
//!
//! QEMU models no cycle counter (CYCCNT reads stay still), ARMv6-M cores have none, and some
//! ARMv7-M cores leave it out, so [`init`] starts CYCCNT, spins, and looks; where it stays still,
//! it starts the board's fallback counter and looks again. Either way a reading is one load of a
//! counter register XORed with a mask (0 for an up-counter, all ones for a down-counter, whose
//! complement counts up and wraps at 2^32 like CYCCNT): no branch on the source, no wrap interrupt
//! to keep, and the encoder extends the wrapping count to 64 bits itself.
//!
//! The rates are the board's constants ([`Counters::CPU_HZ`], [`Counters::FALLBACK_HZ`]), not
//! values kept at run time: where both are the same (the MPS2 boards: 25 MHz), every use of the
//! rate is a constant in the firmware's code.
//!
//! ```
//! use gotrace_cortex_m_clock::{Mps2, TraceClock};
//! use gotrace_encoder::{Offer, Sink};
//! use gotrace_scheduler::{Config, Platform, Scheduler};
//!
//! # struct Board;
//! # impl Platform for Board {
//! #     fn current_context(&self) -> usize { 0 }
//! #     fn idle(&self) {}
//! # }
//! # struct Discard;
//! # impl Sink for Discard {
//! #     fn begin_trace(&mut self, _: &[u8]) {}
//! #     fn write_batch(&mut self, _: u64, _: &[u8], _: &[u8]) -> Offer { Offer::Taken }
//! #     fn end_trace(&mut self) {}
//! #     fn untraced(&mut self, _: u32) {}
//! # }
//! static SCHED: Scheduler<Board, TraceClock<Mps2>, Discard, 4, 1, 2, 512> = Scheduler::new(
//!     Board,
//!     // SAFETY: `start` gives the encoder the chosen clock before tracing starts.
//!     unsafe { TraceClock::unset() },
//!     Discard,
//!     Config { generation_ticks: 0, generation_bytes: 0 },
//! );
//!
//! /// In `main`, before tracing starts and before the interrupts that trace are enabled.
//! fn start(core: &mut cortex_m::Peripherals) {
//!     // CYCCNT on a real MPS2 board; under QEMU, which counts no cycles, TIMER0.
//!     let source = gotrace_cortex_m_clock::init::<Mps2>(&mut core.DCB, &mut core.DWT)
//!         .expect("CYCCNT or TIMER0 counts");
//!     SCHED.with_encoder(|enc| *enc.clock_mut() = TraceClock::chosen());
//!     // `source` and `gotrace_cortex_m_clock::hz::<Mps2>()` for the session descriptor; then
//!     // SCHED.start_tracing(), ...
//! #   let _ = (source, gotrace_cortex_m_clock::ticks_in_us::<Mps2>(1000));
//! }
//! ```
#![no_std]
#![warn(missing_docs, missing_debug_implementations)]

use core::cell::{Cell, UnsafeCell};
use core::marker::PhantomData;
use core::sync::atomic::{AtomicBool, Ordering};

use cortex_m::peripheral::{DCB, DWT};
use gotrace_encoder::Clock;
pub use gotrace_rtt_protocol::ClockSource;

#[cfg(test)]
mod tests;

/// What the clock picks from on a board: DWT CYCCNT at the processor's rate, and the free-running
/// counter used where CYCCNT does not count. The rates are constants of the board.
///
/// # Safety
///
/// `start_fallback` gives a counter of this board that meets [`Counter::new`]'s contract, at
/// `FALLBACK_HZ`; `init` calls it only where CYCCNT does not count, once.
pub unsafe trait Counters {
    /// The processor clock: what CYCCNT counts.
    const CPU_HZ: u32;
    /// What the fallback counter counts per second (with no fallback, `CPU_HZ`, so that the
    /// rate stays a constant).
    const FALLBACK_HZ: u32;
    /// Starts the board's free-running 32-bit counter; `None`: the board has none.
    fn start_fallback() -> Option<Counter>;
}

/// The MPS2 boards (AN385 and AN386, and QEMU's `mps2-an385` and `mps2-an386`, which model no
/// CYCCNT): a 25 MHz processor, and CMSDK APB timer 0 on the 25 MHz APB clock
/// ([`Counter::start_cmsdk_apb_timer`] at `0x4000_0000`) as the fallback. Only for an MPS2 board,
/// and a firmware that uses its TIMER0 for nothing else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Mps2;

/// The MPS2 boards' CMSDK APB timer 0.
const MPS2_TIMER0: usize = 0x4000_0000;

// SAFETY: TIMER0 of the MPS2 memory map, a CMSDK APB timer on the 25 MHz APB clock; `Mps2`'s
// docs reserve it for the clock.
unsafe impl Counters for Mps2 {
    const CPU_HZ: u32 = 25_000_000;
    const FALLBACK_HZ: u32 = 25_000_000;

    fn start_fallback() -> Option<Counter> {
        // SAFETY: see the impl.
        Some(unsafe { Counter::start_cmsdk_apb_timer(MPS2_TIMER0) })
    }
}

/// A free-running 32-bit hardware counter, read as `*register ^ mask`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Counter {
    register: *const u32,
    mask: u32,
    source: ClockSource,
}

/// DWT's cycle counter register (CYCCNT).
const CYCCNT: usize = 0xE000_1004;

impl Counter {
    /// A counter at `register`: counting up with `mask` 0, down with `mask` all ones, so that
    /// `*register ^ mask` grows and wraps at 2^32 (a counter that wraps anywhere else is no trace
    /// clock: the encoder would see time go back). `source` is what the session descriptor
    /// reports: [`ClockSource::BoardTimer`] for a timer of your board's.
    ///
    /// # Safety
    ///
    /// `register` is a counter register of this device, already running or started before
    /// [`init`] looks at it, that reading has no effect on, and that nothing stops or reloads
    /// while the clock is in use; it is read from any context (thread mode and interrupts).
    pub const unsafe fn new(register: *const u32, mask: u32, source: ClockSource) -> Counter {
        Counter {
            register,
            mask,
            source,
        }
    }

    /// DWT CYCCNT, counting the processor's cycles (none on ARMv6-M).
    #[cfg_attr(armv6m, allow(dead_code))]
    const fn cycles() -> Counter {
        Counter {
            register: CYCCNT as *const u32,
            mask: 0,
            source: ClockSource::DwtCycles,
        }
    }

    /// Starts the CMSDK APB timer at `base` free-running, and gives it as a counter: `CTRL` (+0)
    /// 0, `RELOAD` (+8) all ones, which also loads `VALUE` (+4), then `CTRL` 1 (enabled, without
    /// its interrupt). It counts down through 2^32 values and reloads, so `!VALUE` counts up and
    /// wraps at 2^32.
    ///
    /// # Safety
    ///
    /// `base` is a CMSDK APB timer of this device that nothing else uses (its registers are
    /// written here, and it must not be stopped or reloaded while the clock is in use).
    pub unsafe fn start_cmsdk_apb_timer(base: usize) -> Counter {
        let ctrl = base as *mut u32;
        let reload = (base + 0x8) as *mut u32;
        const CTRL_ENABLE: u32 = 1;
        // SAFETY: the caller's: the timer's registers, its own.
        unsafe {
            ctrl.write_volatile(0);
            reload.write_volatile(u32::MAX);
            ctrl.write_volatile(CTRL_ENABLE);
        }
        Counter {
            register: (base + 0x4) as *const u32,
            mask: u32::MAX,
            source: ClockSource::CmsdkApbTimer,
        }
    }

    /// A reading: the register XORed with the mask.
    #[inline]
    pub fn read(&self) -> u32 {
        // SAFETY: `new`'s caller's, or the registers of `cycles` and `start_cmsdk_apb_timer`:
        // a counter readable at any time, without effect.
        unsafe { self.register.read_volatile() ^ self.mask }
    }

    /// What the session descriptor reports.
    pub fn source(&self) -> ClockSource {
        self.source
    }
}

/// The chosen counter as every reading uses it: the register, then the mask.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(8))]
struct Reading {
    register: *const u32,
    mask: u32,
}

/// Written once by [`init`], in thread mode with interrupts masked, before the interrupts that
/// read the clock run; only read after. Read as one plain 8-byte value, so that a reading loads
/// both words with one address and one `ldrd` (a volatile read of it is split into two loads, one
/// instruction more per timestamp); nothing changes it after `init`, so nothing is lost if the
/// compiler reuses a value it has loaded.
struct Chosen(UnsafeCell<Reading>);

// SAFETY: see `Chosen`: written by `init` alone (and the host tests' `choose`), with interrupts
// masked (single core: no reader runs meanwhile), and once at most on a device.
unsafe impl Sync for Chosen {}

static CHOSEN: Chosen = Chosen(UnsafeCell::new(Reading {
    // Before `init`, CYCCNT's address: it reads 0 where the cycle counter does not run.
    register: CYCCNT as *const u32,
    mask: 0,
}));
/// Whether `CHOSEN` is CYCCNT (as before `init`), which counts at `CPU_HZ`, or the fallback.
static CYCLES: AtomicBool = AtomicBool::new(true);
/// The source a successful [`init`] chose: a second `init` returns it and touches nothing, where
/// choosing again would restart the fallback timer under a live clock (time would go back).
static CHOSEN_SOURCE: critical_section::Mutex<Cell<Option<ClockSource>>> =
    critical_section::Mutex::new(Cell::new(None));

/// Picks the trace clock: DWT CYCCNT if it counts, else the board's fallback counter if that
/// counts (started only then: a firmware whose CYCCNT counts keeps its timer). Returns the
/// source chosen, for the session descriptor; `None`: neither counts, and the clock is not set.
///
/// Call it in thread mode, before anything else reads the clock ([`now`],
/// [`TraceClock::chosen`]; until then they read CYCCNT, 0 where it does not count) and before the
/// interrupts that do are enabled. The choice is written with interrupts masked, so a reader never
/// sees half of it. Once a call has chosen, later calls return that choice and change nothing.
#[must_use = "`None`: no counter counts, and the clock is not set"]
pub fn init<C: Counters>(dcb: &mut DCB, dwt: &mut DWT) -> Option<ClockSource> {
    once(|| {
        dcb.enable_trace();
        let cycles = cycle_counter(dwt);
        choose(cycles, C::start_fallback, || cortex_m::asm::delay(1000))
    })
}

/// [`init`]'s choice: `choose`'s, or without calling it the one a call before made.
fn once(choose: impl FnOnce() -> Option<ClockSource>) -> Option<ClockSource> {
    let chosen = critical_section::with(|cs| CHOSEN_SOURCE.borrow(cs).get());
    if chosen.is_some() {
        return chosen;
    }
    let source = choose()?;
    critical_section::with(|cs| CHOSEN_SOURCE.borrow(cs).set(Some(source)));
    Some(source)
}

/// CYCCNT, started, where the core has one.
#[cfg(not(armv6m))]
fn cycle_counter(dwt: &mut DWT) -> Option<Counter> {
    if DWT::has_cycle_counter() {
        // Cortex-M7 parts with the software lock (STM32F7, STM32H7) ignore the enable until
        // the DWT's lock access register is written; elsewhere the write does nothing.
        DWT::unlock();
        dwt.enable_cycle_counter();
        Some(Counter::cycles())
    } else {
        None
    }
}

/// ARMv6-M's DWT has no cycle counter.
#[cfg(armv6m)]
fn cycle_counter(_: &mut DWT) -> Option<Counter> {
    None
}

/// How many of `init`'s spins (1000 cycles each) a counter is given to move: a million cycles,
/// enough for a tick of a 32 kHz timer on a core of 200 MHz (6100 cycles), which one spin is
/// not (a slow counter was taken or turned down by where its tick fell). A counter that stands
/// still (CYCCNT under QEMU) costs the whole wait, about 5 ms at 200 MHz, once at start-up.
const SPINS_TO_MOVE: u32 = 1000;

/// [`init`] once CYCCNT is started (`cycles`, `None` where there is none): the first of it and
/// `fallback`'s counter that moves forward within [`SPINS_TO_MOVE`] runs of `spin`, made the
/// clock. `spin` is the device's busy wait; the host tests' moves their fake registers.
fn choose(
    cycles: Option<Counter>,
    fallback: impl FnOnce() -> Option<Counter>,
    mut spin: impl FnMut(),
) -> Option<ClockSource> {
    let mut counts = |counter: &Counter| {
        let before = counter.read();
        for _ in 0..SPINS_TO_MOVE {
            spin();
            let moved = counter.read().wrapping_sub(before);
            if moved != 0 {
                // Backwards, or by half the range or more: no free-running up-counter.
                return moved < u32::MAX / 2;
            }
        }
        false
    };
    // Which of the two was chosen, not the source the counter reports, sets the rate: a
    // fallback of `Counter::new` may report any source, and one reported as `DwtCycles` was
    // timed at `CPU_HZ`.
    let (counter, is_cycles) = match cycles.filter(&mut counts) {
        Some(counter) => (counter, true),
        None => (fallback().filter(counts)?, false),
    };
    // Interrupts masked: an interrupt reading the clock sees the register and mask both old or
    // both new, never one of each.
    critical_section::with(|_| {
        // SAFETY: no other context runs while interrupts are masked, and nothing else writes
        // `CHOSEN` (see there).
        unsafe {
            CHOSEN.0.get().write_volatile(Reading {
                register: counter.register,
                mask: counter.mask,
            });
        }
        CYCLES.store(is_cycles, Ordering::Relaxed);
    });
    Some(counter.source)
}

/// A reading of the chosen counter: the trace clock's raw 32-bit tick count, for busy waits and
/// timeouts outside the scheduler (the encoder reads its own copy, [`TraceClock`]).
#[must_use]
#[inline]
pub fn now() -> u32 {
    // SAFETY: see `Chosen`; the register is CYCCNT or the counter `init` checked, and reading
    // it has no effect.
    unsafe {
        let reading = CHOSEN.0.get().read();
        reading.register.read_volatile() ^ reading.mask
    }
}

/// Ticks per second of [`now`]: `C::CPU_HZ` for CYCCNT (and before [`init`]), else
/// `C::FALLBACK_HZ`; a constant where the two are the same.
#[must_use]
#[inline]
pub fn hz<C: Counters>() -> u32 {
    if C::CPU_HZ == C::FALLBACK_HZ || CYCLES.load(Ordering::Relaxed) {
        C::CPU_HZ
    } else {
        C::FALLBACK_HZ
    }
}

/// Ticks of [`now`] in `us` microseconds, rounded down (and cut to 32 bits, as the clock's
/// readings are).
#[must_use]
#[inline]
pub fn ticks_in_us<C: Counters>(us: u32) -> u32 {
    let hz = hz::<C>();
    if hz.is_multiple_of(1_000_000) {
        // Whole megahertz (a constant rate folds to this alone): the same value, cut to 32 bits.
        us.wrapping_mul(hz / 1_000_000)
    } else {
        // us * hz / 10^6 = (us * hz / 2^6) / 15625, each division rounding down.
        div_small((u64::from(us) * u64::from(hz)) >> 6, 15_625) as u32
    }
}

/// `x / divisor`, rounded down, for a divisor below 2^16: long division in 16-bit digits, so
/// 32-bit divisions only (one instruction each on ARMv7-M), where a `u64` division links
/// compiler-builtins' (about 900 bytes of flash on Cortex-M).
fn div_small(x: u64, divisor: u32) -> u64 {
    let mut quotient = 0u64;
    let mut remainder = 0u32;
    for shift in [48, 32, 16, 0] {
        // remainder < divisor < 2^16: no bit is lost.
        let digits = (remainder << 16) | ((x >> shift) as u32 & 0xffff);
        quotient = (quotient << 16) | u64::from(digits / divisor);
        remainder = digits % divisor;
    }
    quotient
}

/// Busy-waits `ticks` ticks of the trace clock. It never returns where the clock does not count:
/// before [`init`] on a core whose CYCCNT stands still (QEMU's), or after an `init` that found no
/// counter.
pub fn spin(ticks: u32) {
    spin_on(now, ticks);
}

/// [`spin`] on the readings of `read`: until it reads `ticks` past its first reading, across
/// its wrap. The host tests' `read` moves a fake counter.
#[inline]
fn spin_on(mut read: impl FnMut() -> u32, ticks: u32) {
    let start = read();
    while read().wrapping_sub(start) < ticks {}
}

/// The encoder's clock: whichever counter [`init`] picked, as the encoder's own copy of the
/// reading ([`TraceClock::chosen`]). A timestamp then loads the register and mask relative to the
/// encoder, whose address the scheduler's code holds anyway, instead of first loading the
/// address of this crate's static (two instructions per event fewer, 48 bytes of flash less in
/// the example firmware, for 8 bytes of RAM in the encoder).
pub struct TraceClock<C>(Reading, PhantomData<fn() -> C>);

/// The register it reads and the mask of its counting bits.
impl<C> core::fmt::Debug for TraceClock<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("TraceClock").field(&self.0).finish()
    }
}

#[cfg(feature = "defmt")]
impl<C> defmt::Format for TraceClock<C> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "TraceClock {{ register: {}, mask: {=u32:#x} }}",
            self.0.register,
            self.0.mask
        );
    }
}

impl<C> Clone for TraceClock<C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for TraceClock<C> {}

// SAFETY: the register is a counter readable from any context (`Counter::new`'s contract).
unsafe impl<C> Send for TraceClock<C> {}

impl<C> TraceClock<C> {
    /// No counter yet: all zeros, so that the scheduler's static, which holds it, stays in
    /// `.bss` (a counter's address there would move all of the static into `.data`, flash).
    ///
    /// # Safety
    ///
    /// It is not read: the caller replaces it with [`TraceClock::chosen`] before the encoder
    /// reads its clock (the encoder reads it only while tracing, from the start of a trace on).
    pub const unsafe fn unset() -> TraceClock<C> {
        TraceClock(
            Reading {
                register: core::ptr::null(),
                mask: 0,
            },
            PhantomData,
        )
    }

    /// The counter [`init`] picked.
    #[inline]
    #[must_use = "the clock is given to the encoder (`clock_mut`)"]
    pub fn chosen() -> TraceClock<C> {
        // SAFETY: see `Chosen`.
        TraceClock(unsafe { CHOSEN.0.get().read() }, PhantomData)
    }
}

impl<C: Counters> Clock for TraceClock<C> {
    #[inline]
    fn now(&mut self) -> u32 {
        // SAFETY: a `TraceClock` read is `chosen`'s (see `now`), or `unset`'s, whose caller
        // promised that it is replaced before any reading.
        unsafe { self.0.register.read_volatile() ^ self.0.mask }
    }

    #[inline]
    fn frequency(&self) -> u64 {
        u64::from(hz::<C>())
    }
}
