//! What differs between the boards this firmware runs on: clock rates, RAM, how to end.
//!
//! The workload only uses core peripherals (SysTick, PendSV, DWT), so one firmware runs on
//! QEMU's MPS2 boards and on a real nRF52840 alike; only these constants and the exit differ.

/// Execution contexts (Go's Ms): thread mode, then each exception level that runs scheduler code.
pub const CONTEXT_THREAD: usize = 0;
pub const CONTEXT_SYSTICK: usize = 1;
pub const CONTEXT_PENDSV: usize = 2;
pub const CONTEXTS: usize = 3;

/// The processor clock, which SysTick counts when DWT CYCCNT does not.
#[cfg(feature = "board-mps2")]
pub const CPU_HZ: u32 = 25_000_000;
#[cfg(feature = "board-nrf52840")]
pub const CPU_HZ: u32 = 64_000_000;

/// The scheduler's view of the machine: the active exception names the context.
pub struct Board;

impl gotrace_scheduler::Platform for Board {
    fn current_context(&self) -> usize {
        match cortex_m::peripheral::SCB::vect_active() {
            cortex_m::peripheral::scb::VectActive::ThreadMode => CONTEXT_THREAD,
            cortex_m::peripheral::scb::VectActive::Exception(
                cortex_m::peripheral::scb::Exception::SysTick,
            ) => CONTEXT_SYSTICK,
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
