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

/// How long the firmware waits from its start for the host's start command before it traces
/// without one. Under QEMU the host attaches to a guest it holds halted until then. On a board it
/// attaches after the reset, while the firmware runs, and maps the RTT channels through the
/// probe, tens of round trips of milliseconds each on a slow probe (CMSIS-DAP v1): 200 ms could
/// pass first, and the recording then ran lossy with the default generations.
#[cfg(feature = "board-mps2")]
pub const START_WAIT_MS: u32 = 200;
#[cfg(feature = "board-nrf52840")]
pub const START_WAIT_MS: u32 = 1000;

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
            14 => CONTEXT_PENDSV,
            // An exception given no context of its own (a handler added later): the scheduler
            // refuses its calls (`Error::NoSuchContext`), where taken for PendSV, which it may
            // have preempted, its wake was credited to PendSV's running task and its executor
            // round broke PendSV's.
            _ => CONTEXTS,
        }
    }

    fn idle(&self) {
        cortex_m::asm::wfi();
    }
}

/// How many times `exit` looks whether the host has read the log channel before it ends the
/// program, and with it the host's reads (QEMU's semihosting exit) or the recording (a board's
/// breakpoint): the last lines, a panic's message among them, would be lost. Counted, not timed,
/// as the clock may be what failed: a look takes tens of instructions, so this is a few hundred
/// milliseconds under QEMU and about a second on a 64 MHz board at most, against the host's
/// reads every millisecond or so.
const LOG_DRAIN_LOOKS: u32 = 2_000_000;

/// Ends the program once the host has read the log channel or `LOG_DRAIN_LOOKS` have passed:
/// under QEMU a semihosting exit (the host sees the status); on a board, where semihosting
/// without a debugger would fault, a breakpoint, `bkpt #0` for success and `bkpt #1` for
/// failure, which halts the core for the debugger (`gotrace record --chip` reads the number as
/// the exit status). With none attached the breakpoint faults: the fault handler comes here
/// again, as a failure, and its breakpoint in the handler locks the core up, the end either way.
pub fn exit(success: bool) -> ! {
    // SAFETY: nothing is written to channel 0 through it: it tells whether the host has read
    // everything written there (rtt-target may mend offsets it finds corrupt, as it would for
    // the logger).
    let log = unsafe { rtt_target::UpChannel::conjure(0) };
    for _ in 0..LOG_DRAIN_LOOKS {
        if log.as_ref().is_none_or(|c| c.is_empty()) {
            break;
        }
    }
    #[cfg(feature = "board-mps2")]
    {
        use cortex_m_semihosting::debug;
        debug::exit(if success {
            debug::EXIT_SUCCESS
        } else {
            debug::EXIT_FAILURE
        });
    }
    #[cfg(feature = "board-nrf52840")]
    // SAFETY: a breakpoint instruction; it changes no state the program relies on.
    unsafe {
        if success {
            core::arch::asm!("bkpt #0");
        } else {
            core::arch::asm!("bkpt #1");
        }
    }
    loop {
        cortex_m::asm::wfi();
    }
}

/// Keeps the nRF52840's debug port open across resets, which the chips of build code F and
/// later (revision 3, on current development kits) close at every reset unless UICR.APPROTECT
/// holds `HwDisabled` (0x5A) and the firmware writes `SwDisable` (0x5A) to APPROTECT.DISABLE
/// after each reset (Nordic's "Working with the nRF52 Series' improved APPROTECT"): without it
/// the probe could no longer read the RTT control block after `gotrace record`'s reset. Earlier
/// build codes keep the port open by default and are left alone. Writing UICR takes a reset to
/// apply: the first start after flashing resets once. A UICR that already enables protection
/// (0x00) cannot be written back without erasing the chip, and is left as it is.
///
/// Call it first thing in `main`.
#[cfg(feature = "board-nrf52840")]
pub fn keep_debug_port_open() {
    const FICR_INFO_VARIANT: *const u32 = 0x1000_0104 as *const u32;
    const UICR_APPROTECT: *mut u32 = 0x1000_1208 as *mut u32;
    const APPROTECT_DISABLE: *mut u32 = 0x4000_0558 as *mut u32;
    const NVMC_READY: *const u32 = 0x4001_E400 as *const u32;
    const NVMC_CONFIG: *mut u32 = 0x4001_E504 as *mut u32;
    const NVMC_CONFIG_REN: u32 = 0;
    const NVMC_CONFIG_WEN: u32 = 1;
    const DISABLED: u32 = 0x5A;
    // SAFETY: reads and writes of the nRF52840's FICR, UICR, NVMC and APPROTECT registers at
    // their documented addresses, in thread mode before anything else runs.
    unsafe {
        // The variant reads as ASCII, "AAF0": its third letter is the build code.
        let build_code = (FICR_INFO_VARIANT.read_volatile() >> 8) as u8;
        if build_code < b'F' {
            return;
        }
        let uicr = UICR_APPROTECT.read_volatile();
        // Flash bits only go from 1 to 0: 0x5A can be written over an erased word.
        if uicr != DISABLED && uicr & DISABLED == DISABLED {
            let ready = || while NVMC_READY.read_volatile() & 1 == 0 {};
            NVMC_CONFIG.write_volatile(NVMC_CONFIG_WEN);
            ready();
            UICR_APPROTECT.write_volatile(DISABLED);
            ready();
            NVMC_CONFIG.write_volatile(NVMC_CONFIG_REN);
            ready();
            cortex_m::peripheral::SCB::sys_reset();
        }
        APPROTECT_DISABLE.write_volatile(DISABLED);
    }
}
