//! The trace clock, chosen at start-up: DWT CYCCNT where it counts, SysTick where it does not.
//!
//! QEMU models no cycle counter (CYCCNT reads stay still), and some cores have none, so the
//! firmware starts CYCCNT, spins, and looks. SysTick always exists: it counts the processor
//! clock down from `RELOAD`; its exception counts periods, and a reading taken while a wrap is
//! still pending (inside a critical section, say) adds the pending period itself. Either way the
//! encoder gets a wrapping 32-bit count and extends it to 64 bits itself.

use core::sync::atomic::{AtomicU32, AtomicU8, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, DCB, DWT, SCB, SYST};
use gotrace_encoder::Clock;
use gotrace_rtt_protocol::ClockSource;

/// SysTick period in processor cycles: 1 ms at 25 MHz. Also the workload's timer tick.
pub const RELOAD: u32 = crate::board::CPU_HZ / 1000;

static SOURCE: AtomicU8 = AtomicU8::new(0);
/// Ticks at the start of the current SysTick period (wrapping): one add per event's reading.
static SYSTICK_BASE: AtomicU32 = AtomicU32::new(0);

const DWT_SOURCE: u8 = 1;
const SYSTICK_SOURCE: u8 = 2;

/// Starts SysTick (always: it is the workload's timer) and picks the trace clock.
pub fn init(syst: &mut SYST, dcb: &mut DCB, dwt: &mut DWT) -> ClockSource {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD - 1);
    syst.clear_current();
    syst.enable_counter();
    syst.enable_interrupt();
    dcb.enable_trace();
    let source = if DWT::has_cycle_counter() {
        dwt.enable_cycle_counter();
        let before = DWT::cycle_count();
        cortex_m::asm::delay(1000);
        if DWT::cycle_count() != before {
            ClockSource::DwtCycles
        } else {
            ClockSource::SysTick
        }
    } else {
        ClockSource::SysTick
    };
    let code = match source {
        ClockSource::DwtCycles => DWT_SOURCE,
        ClockSource::SysTick => SYSTICK_SOURCE,
    };
    SOURCE.store(code, Ordering::Relaxed);
    source
}

/// Called first thing in the SysTick handler.
pub fn on_systick() {
    SYSTICK_BASE.fetch_add(RELOAD, Ordering::Relaxed);
}

/// Ticks since SysTick started, wrapping at 2^32 like a hardware counter.
#[inline]
fn systick_ticks() -> u32 {
    // SysTick runs at the highest priority, so a wrap is either counted or still pending.
    let base = SYSTICK_BASE.load(Ordering::Relaxed);
    let current = SYST::get_current();
    let (base, current) = if SCB::is_pendst_pending() {
        // The period ended and its exception has not run: count it, and read again, since
        // `current` may predate the wrap.
        (base.wrapping_add(RELOAD), SYST::get_current())
    } else {
        (base, current)
    };
    base.wrapping_add(RELOAD - 1 - current)
}

/// A raw 32-bit tick count of the chosen source: the trace clock, and busy waits.
#[inline]
pub fn raw_ticks() -> u32 {
    match SOURCE.load(Ordering::Relaxed) {
        DWT_SOURCE => DWT::cycle_count(),
        _ => systick_ticks(),
    }
}

/// Busy-waits `ticks` ticks of the trace clock.
pub fn spin(ticks: u32) {
    let start = raw_ticks();
    while raw_ticks().wrapping_sub(start) < ticks {}
}

/// The encoder's clock: whichever source `init` picked.
pub struct TraceClock;

impl Clock for TraceClock {
    #[inline]
    fn now(&mut self) -> u32 {
        raw_ticks()
    }

    fn frequency(&self) -> u64 {
        u64::from(crate::board::CPU_HZ)
    }
}
