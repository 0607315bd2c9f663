//! What differs between the boards this firmware runs on: clock rates, RAM, the timer that keeps
//! time where the core's cycle counter does not, how to end.
//!
//! The workload only uses core peripherals (SysTick, PendSV, DWT), so one firmware runs on
//! QEMU's MPS2 boards and on a real nRF52840 alike; only these constants, the timer and the exit
//! differ.

use crate::clock::Counter;

/// Execution contexts (Go's Ms): thread mode, then each exception level that runs scheduler code.
pub const CONTEXT_THREAD: usize = 0;
pub const CONTEXT_SYSTICK: usize = 1;
pub const CONTEXT_PENDSV: usize = 2;
pub const CONTEXTS: usize = 3;

/// The processor clock: what SysTick and DWT CYCCNT count.
#[cfg(feature = "board-mps2")]
pub const CPU_HZ: u32 = 25_000_000;
#[cfg(feature = "board-nrf52840")]
pub const CPU_HZ: u32 = 64_000_000;

/// Starts the board's free-running 32-bit timer for the trace clock, where there is one.
///
/// MPS2 (AN385/AN386, real or QEMU's): CMSDK APB timer 0 at 0x4000_0000, a 32-bit down-counter
/// on the 25 MHz APB clock. Loading `RELOAD` with all ones also loads `VALUE`; enabled without its
/// interrupt, it then counts down through 2^32 values and reloads, so `!VALUE` counts up and wraps
/// at 2^32. Nothing else in the firmware uses this timer.
#[cfg(feature = "board-mps2")]
pub fn start_timer_counter() -> Option<Counter> {
    const TIMER0: usize = 0x4000_0000;
    const CTRL: *mut u32 = TIMER0 as *mut u32;
    const VALUE: *const u32 = (TIMER0 + 0x4) as *const u32;
    const RELOAD: *mut u32 = (TIMER0 + 0x8) as *mut u32;
    const CTRL_ENABLE: u32 = 1;
    // SAFETY: the timer's registers on the MPS2 memory map; the firmware's only user of TIMER0.
    unsafe {
        CTRL.write_volatile(0);
        RELOAD.write_volatile(u32::MAX);
        CTRL.write_volatile(CTRL_ENABLE);
    }
    Some(Counter {
        register: VALUE,
        mask: u32::MAX,
        hz: 25_000_000,
        source: gotrace_rtt_protocol::ClockSource::CmsdkApbTimer,
    })
}

/// The nRF52840's Cortex-M4 always has a counting DWT CYCCNT, so the trace clock never needs a
/// timer there.
#[cfg(feature = "board-nrf52840")]
pub fn start_timer_counter() -> Option<Counter> {
    None
}

/// The scheduler's view of the machine: the active exception names the context.
pub struct Board;

impl gotrace_scheduler::Platform for Board {
    fn current_context(&self) -> usize {
        // ICSR's VECTACTIVE, the number of the active exception, compared as a number: 0 in
        // thread mode, 15 for SysTick. `SCB::vect_active` first maps it to an enum through a
        // table, about 20 bytes more at each of the scheduler's inlined calls.
        // SAFETY: reading ICSR has no effect.
        let active = unsafe { (*cortex_m::peripheral::SCB::PTR).icsr.read() } & 0x1ff;
        match active {
            0 => CONTEXT_THREAD,
            15 => CONTEXT_SYSTICK,
            _ => CONTEXT_PENDSV,
        }
    }

    fn idle(&self) {
        cortex_m::asm::wfi();
    }
}

/// Ends the program: a semihosting exit under QEMU (the host sees the status), a sleep on a
/// board (where semihosting without a debugger would fault).
pub fn exit(success: bool) -> ! {
    #[cfg(feature = "board-mps2")]
    {
        use cortex_m_semihosting::debug;
        debug::exit(if success {
            debug::EXIT_SUCCESS
        } else {
            debug::EXIT_FAILURE
        });
    }
    let _ = success;
    loop {
        cortex_m::asm::wfi();
    }
}
