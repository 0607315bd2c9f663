//! What the scheduler needs from the machine it runs on, kept behind a trait so that the core
//! has no Cortex-M dependency: the firmware implements it with the active exception number and
//! `wfi`; the host simulator with a stack of simulated contexts.

/// The execution-context model of the platform.
pub trait Platform {
    /// The execution context running the caller: 0 for thread mode, then one stable ID per
    /// interrupt priority level that runs scheduler code (Go's M). Must be below the
    /// scheduler's `MS`: a context at or beyond it is refused (`Error::NoSuchContext`), the
    /// answer for code the firmware gave no context. NMI and HardFault are not masked by the
    /// scheduler's critical section: code there must not call the scheduler at all, for it may
    /// find the scheduler's state in use, and that panics.
    fn current_context(&self) -> usize;

    /// Called by the scheduler at every point where an interrupt may land between two of its
    /// atomic steps. Real hardware needs nothing here (interrupts just happen); the simulator
    /// fires its simulated interrupts from it.
    fn preemption_point(&self) {}

    /// Thread mode found nothing to run: sleep until an interrupt is pending (`wfi`). Called
    /// with interrupts masked ([`crate::Scheduler::idle`]): it must return once one is pending,
    /// without waiting for it to be taken, as `wfi` does.
    fn idle(&self) {}
}
