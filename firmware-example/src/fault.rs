//! What the HardFault handler tells the host before the firmware exits: where the fault happened
//! (the stacked PC and LR) and why (the fault status registers, named), so that a recording of a
//! firmware that faults says more than "exit status 1". `gotrace record` names the PC's and
//! LR's functions and lines itself, from the frame it reads at the handler's entry.

use cortex_m::peripheral::SCB;
use cortex_m_rt::ExceptionFrame;

/// HFSR.DEBUGEVT: a breakpoint or debug event with no debugger to take it, as the board's exit
/// (`bkpt`) gives when nobody is attached. No fault of the program's, and nobody to read a log.
const HFSR_DEBUG_EVENT: u32 = 1 << 31;
/// CFSR.MMARVALID and CFSR.BFARVALID: MMFAR and BFAR hold the address the access faulted on.
const CFSR_MMFAR_VALID: u32 = 1 << 7;
const CFSR_BFAR_VALID: u32 = 1 << 15;

/// HFSR.VECTTBL: a bus fault reading the vector table, which sets no configurable fault bit.
const HFSR_VECTOR_TABLE: u32 = 1 << 1;

/// The configurable fault status bits (ARMv7-M, B3.2.15), in the architecture's order. The
/// first one set names the fault; the register itself is logged beside it for the rest.
const CAUSES: [(u32, &str); 17] = [
    (1 << 0, "instruction fetch from a protected region"),
    (1 << 1, "data access to a protected region"),
    (1 << 3, "exception return unstacking hit a protected region"),
    (1 << 4, "exception entry stacking hit a protected region"),
    (
        1 << 5,
        "lazy floating-point state saving hit a protected region",
    ),
    (1 << 8, "bus error on an instruction fetch"),
    (1 << 9, "precise bus error on a data access"),
    (
        1 << 10,
        "imprecise bus error on a data access (the PC is past it)",
    ),
    (1 << 11, "bus error unstacking on exception return"),
    (
        1 << 12,
        "bus error stacking on exception entry (a stack overflow?)",
    ),
    (1 << 13, "bus error on lazy floating-point state saving"),
    (1 << 16, "undefined instruction"),
    (1 << 17, "invalid state (a branch to an even address?)"),
    (1 << 18, "invalid EXC_RETURN on exception return"),
    (
        1 << 19,
        "coprocessor access, the coprocessor off (the FPU not enabled?)",
    ),
    (1 << 24, "unaligned access"),
    (1 << 25, "division by zero"),
];

/// Logs why the core faulted, unless the fault is the exit's own breakpoint with no debugger.
pub fn report(frame: &ExceptionFrame) {
    // SAFETY: reads of the fault status and address registers, which nothing else writes.
    let (cfsr, hfsr, mmfar, bfar) = unsafe {
        let scb = &*SCB::PTR;
        (
            scb.cfsr.read(),
            scb.hfsr.read(),
            scb.mmfar.read(),
            scb.bfar.read(),
        )
    };
    if hfsr & HFSR_DEBUG_EVENT != 0 {
        return;
    }
    let cause = CAUSES
        .iter()
        .find(|(bit, _)| cfsr & bit != 0)
        .map(|(_, cause)| *cause)
        .unwrap_or(if hfsr & HFSR_VECTOR_TABLE != 0 {
            "bus error reading the vector table"
        } else {
            "no fault status recorded"
        });
    let address = if cfsr & CFSR_BFAR_VALID != 0 {
        Some(bfar)
    } else if cfsr & CFSR_MMFAR_VALID != 0 {
        Some(mmfar)
    } else {
        None
    };
    let (pc, lr) = (frame.pc(), frame.lr());
    match address {
        Some(address) => defmt::error!(
            "hard fault at PC {=u32:#010x} (LR {=u32:#010x}): {=str}, address {=u32:#010x} (CFSR {=u32:#010x}, HFSR {=u32:#010x})",
            pc, lr, cause, address, cfsr, hfsr
        ),
        None => defmt::error!(
            "hard fault at PC {=u32:#010x} (LR {=u32:#010x}): {=str} (CFSR {=u32:#010x}, HFSR {=u32:#010x})",
            pc, lr, cause, cfsr, hfsr
        ),
    }
}
