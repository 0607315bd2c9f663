//! What differs between the boards this firmware runs on: clock rates, RAM, the timer that keeps
//! time where the core's cycle counter does not, how to end.
//!
//! The workload only uses core peripherals (SysTick, PendSV, DWT), so one firmware runs on
//! QEMU's MPS2 boards and on a real nRF52840 alike; only these constants, the timer and the exit
//! differ.

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

/// What the trace clock picks from (`gotrace-cortex-m-clock`): DWT CYCCNT, else the board's
/// free-running timer. MPS2 (AN385/AN386, real or QEMU's, which counts no CYCCNT): CMSDK APB
/// timer 0 at 25 MHz, the processor's rate too; nothing else in the firmware uses that timer.
#[cfg(feature = "board-mps2")]
pub type ClockCounters = gotrace_cortex_m_clock::Mps2;
#[cfg(feature = "board-nrf52840")]
pub type ClockCounters = Nrf52840;

/// The nRF52840's Cortex-M4 always has a counting DWT CYCCNT, so the trace clock never needs a
/// timer there.
#[cfg(feature = "board-nrf52840")]
pub struct Nrf52840;

// SAFETY: no fallback counter.
#[cfg(feature = "board-nrf52840")]
unsafe impl gotrace_cortex_m_clock::Counters for Nrf52840 {
    const CPU_HZ: u32 = CPU_HZ;
    const FALLBACK_HZ: u32 = CPU_HZ;

    fn start_fallback() -> Option<gotrace_cortex_m_clock::Counter> {
        None
    }
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

/// How many times `exit` looks whether the host has read the log channel before a semihosting
/// exit ends QEMU, and with it the host's reads: the last lines, a panic's message among them,
/// would be lost. Counted, not timed, as the clock may be what failed: a look takes tens of
/// instructions, so this is a few hundred milliseconds under QEMU at most, against the host's
/// reads every millisecond or so.
#[cfg(feature = "board-mps2")]
const LOG_DRAIN_LOOKS: u32 = 2_000_000;

/// Ends the program: a semihosting exit under QEMU (the host sees the status) once the host has
/// read the log channel or `LOG_DRAIN_LOOKS` have passed; a sleep on a board (where semihosting
/// without a debugger would fault, and the host reads on).
pub fn exit(success: bool) -> ! {
    #[cfg(feature = "board-mps2")]
    {
        use cortex_m_semihosting::debug;
        // SAFETY: nothing is written to channel 0 through it: it tells whether the host has read
        // everything written there (rtt-target may mend offsets it finds corrupt, as it would
        // for the logger).
        let log = unsafe { rtt_target::UpChannel::conjure(0) };
        for _ in 0..LOG_DRAIN_LOOKS {
            if log.as_ref().is_none_or(|c| c.is_empty()) {
                break;
            }
        }
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
