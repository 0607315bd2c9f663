//! The traced workload: three tasks on one executor, a timer interrupt, and an interrupt
//! callback, arranged so the trace shows every hard case of the format.
//!
//! * `transfer` does blocking SPI transfers through `embedded-hal` (syscalls), each longer than a
//!   generation, so one always spans a generation boundary;
//! * `timer` sleeps and is woken by SysTick (a `GoUnblock` from an interrupt);
//! * `logger` writes log records (defmt and Go user logs/regions), woken by the callback;
//! * PendSV, below SysTick and above thread mode, runs a tracked callback each time (the same M
//!   and goroutine every time) and, while `transfer` sits in a blocking transfer in thread mode
//!   with the executor, the executor itself: it steals it (`ProcSteal`) and runs the others;
//! * PendSV, first thing, ends a generation every so many SysTicks: generations last whole
//!   milliseconds (`main.rs` rounds the host's period up to them).

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SYST};
use embedded_hal::spi::SpiBus;
use gotrace_scheduler::{Annotate, Error, Step, TaskCx, TaskId};

use crate::bus::LoopbackSpi;
use crate::SCHED;

/// Bytes per SPI transfer and bus time per byte: 64 × 48 µs ≈ 3 ms.
const TRANSFER_BYTES: usize = 64;
/// Where the feature `fault-in-task` reads: no memory or device answers there on the MPS2
/// boards, so the read is a precise bus fault, taken as a hard fault (the bus fault handler is
/// not enabled).
#[cfg(feature = "fault-in-task")]
const FAULTING_ADDRESS: usize = 0x3000_0000;
const US_PER_BYTE: u32 = 48;
/// The SysTick period, 1 ms: what generations are counted in.
pub const SYSTICK_US: u32 = 1000;
/// The SysTick period in processor cycles.
const SYSTICK_RELOAD: u32 = crate::board::CPU_HZ / (1_000_000 / SYSTICK_US);

pub const TRANSFER: TaskId = TaskId(0);
pub const TIMER: TaskId = TaskId(1);
pub const LOGGER: TaskId = TaskId(2);

/// The timer and PendSV act only while the workload runs: from `spawn` to `stop` (not during
/// measurements).
static RUNNING: AtomicBool = AtomicBool::new(false);
static FINISHED: AtomicU32 = AtomicU32::new(0);
/// Rounds each task runs before it finishes (about 0.1 s of device time), unless `until-stopped`.
static TRANSFERS: Rounds = Rounds::new(12);
static TICKS: Rounds = Rounds::new(40);
static LOG_RECORDS: Rounds = Rounds::new(30);
static SYSTICKS: AtomicU32 = AtomicU32::new(0);
/// `transfer` is inside its blocking transfer: the only time PendSV runs the executor. Let to run
/// it whenever the executor was free, PendSV took `transfer` too, whose 3 ms outlast the SysTick
/// that pends PendSV again: PendSV then ran it round after round and thread mode, where the main
/// loop reads the host's commands, got no time, so a stop went unread (for good with
/// `until-stopped`; until the workload's end without it).
static IN_TRANSFER: AtomicBool = AtomicBool::new(false);
/// Generation length in SysTicks (0: no time-based generations), and the SysTick the current
/// one began at. Counted in SysTicks, not read on the clock: PendSV runs once per SysTick, at
/// times that move with what preempted it and what it ran, and a generation ended at its first
/// run a clock period after the last end came out one SysTick longer whenever that run fell
/// just short of the period (half the generations of the default 1 ms lasted 2 ms).
static GENERATION_SYSTICKS: AtomicU32 = AtomicU32::new(0);
static GENERATION_START: AtomicU32 = AtomicU32::new(0);

pub fn spawn(generation_systicks: u32) {
    GENERATION_SYSTICKS.store(generation_systicks, Ordering::Relaxed);
    GENERATION_START.store(SYSTICKS.load(Ordering::Relaxed), Ordering::Relaxed);
    for (id, task) in [
        (TRANSFER, transfer as gotrace_scheduler::TaskFn),
        (TIMER, timer),
        (LOGGER, logger),
    ] {
        let spawned = SCHED.spawn(0, task, 0).expect("task table has room");
        assert_eq!(spawned, id);
    }
    RUNNING.store(true, Ordering::Release);
}

/// Ends the interrupts' part of the workload, when the main loop ends: after the host's stop,
/// PendSV ran the tasks left on, untraced, 3 ms transfers in the interrupt starving thread mode,
/// and the logger writing the log channel that the drain wait and the exit take for quiet.
/// A PendSV pended before it, while thread mode had interrupts masked, finds it too.
pub fn stop() {
    RUNNING.store(false, Ordering::Release);
}

/// Every task has finished.
pub fn finished() -> bool {
    FINISHED.load(Ordering::Relaxed) == 3
}

/// The rounds a task has begun, and how many it runs before it finishes.
struct Rounds {
    begun: AtomicU32,
    last: u32,
}

impl Rounds {
    const fn new(last: u32) -> Self {
        Rounds {
            begun: AtomicU32::new(0),
            last,
        }
    }

    /// Begins the next round; returns its number, from 1.
    fn begin(&self) -> u32 {
        self.begun.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The task's step after round `n`: `then`, or after the last round `Done` (once `finale`
    /// has run). With the feature `until-stopped` no round is the last: the workload runs until
    /// the host's stop command (whose reader is the main loop), for recordings of any length.
    fn end(&self, n: u32, then: Step, finale: impl FnOnce()) -> Step {
        if n < self.last || cfg!(feature = "until-stopped") {
            return then;
        }
        finale();
        FINISHED.fetch_add(1, Ordering::Relaxed);
        Step::Done
    }
}

fn transfer(cx: &mut TaskCx<'_>) -> Step {
    let n = TRANSFERS.begin();
    let mut spi = LoopbackSpi {
        ticks_per_byte: gotrace_cortex_m_clock::ticks_in_us::<crate::board::ClockCounters>(
            US_PER_BYTE,
        ),
    };
    let out = [n as u8; TRANSFER_BYTES];
    let mut back = [0u8; TRANSFER_BYTES];
    let result = cx
        .region(0, "spi-transfer", |cx| {
            cx.blocking(|| {
                IN_TRANSFER.store(true, Ordering::Release);
                let done = spi.transfer(&mut back, &out);
                IN_TRANSFER.store(false, Ordering::Release);
                done
            })
        })
        .and_then(|r| r);
    if !matches!(result, Ok(Ok(()))) || back != out {
        defmt::error!("transfer {} failed", n);
    }
    TRANSFERS.end(n, Step::Yield, || {
        defmt::info!("transfer task: {} transfers done", n)
    })
}

fn timer(cx: &mut TaskCx<'_>) -> Step {
    let n = TICKS.begin();
    // A task's annotations are refused only off a running task: a refusal here is a bug.
    defmt::unwrap!(cx.log(0, "timer", "tick"));
    TICKS.end(n, Step::Wait, || {
        defmt::info!("timer task: {} ticks seen", n)
    })
}

fn logger(cx: &mut TaskCx<'_>) -> Step {
    let n = LOG_RECORDS.begin();
    defmt::unwrap!(cx.region(0, "log-record", |cx| {
        defmt::info!("log record {}", n);
        #[cfg(feature = "panic-in-task")]
        if n == 3 {
            panic!("at log record {} (feature panic-in-task)", n);
        }
        #[cfg(feature = "fault-in-task")]
        if n == 3 {
            // SAFETY: none: a read where nothing is mapped, to fault on purpose.
            unsafe { core::ptr::read_volatile(FAULTING_ADDRESS as *const u32) };
        }
        defmt::unwrap!(cx.log(0, "logger", "record"));
    }));
    LOG_RECORDS.end(n, Step::Wait, || {})
}

/// Starts SysTick, the workload's 1 ms timer interrupt.
pub fn start_systick(syst: &mut SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(SYSTICK_RELOAD - 1);
    syst.clear_current();
    syst.enable_counter();
    syst.enable_interrupt();
}

/// The 1 ms timer: wakes the timer task every other tick, and hands the rest to PendSV (lower
/// priority, so SysTick keeps preempting while PendSV runs tasks).
#[cortex_m_rt::exception]
fn SysTick() {
    if !RUNNING.load(Ordering::Acquire) {
        return;
    }
    let tick = SYSTICKS.fetch_add(1, Ordering::Relaxed) + 1;
    if tick.is_multiple_of(2) {
        // Refused once the timer task has done its rounds, as it is meant to.
        refused_only_as(SCHED.wake(TIMER), |e| matches!(e, Error::NoSuchTask(_)));
    }
    cortex_m::peripheral::SCB::set_pendsv();
}

#[cortex_m_rt::exception]
fn PendSV() {
    // Pended by SysTick only while running, but a firmware may pend it from elsewhere.
    if !RUNNING.load(Ordering::Acquire) {
        return;
    }
    let tick = SYSTICKS.load(Ordering::Relaxed);
    // First, so that the boundary is as close to its SysTick as PendSV gets, whatever the tasks
    // below take. SysTicks missed while interrupts were masked (a lossless sink waiting for the
    // host) make that generation longer, never the next shorter.
    let period = GENERATION_SYSTICKS.load(Ordering::Relaxed);
    if period > 0 && tick.wrapping_sub(GENERATION_START.load(Ordering::Relaxed)) >= period {
        GENERATION_START.store(tick, Ordering::Relaxed);
        // Refused while the host has tracing off: there is no generation to end.
        #[cfg(feature = "trace")]
        refused_only_as(SCHED.advance_generation(), |e| {
            matches!(e, Error::Trace(gotrace_encoder::Error::NotTracing))
        });
    }
    // A tracked callback, every time on the same context. It and the round below are refused
    // only on a context the scheduler does not know or inside a blocking operation: a bug.
    defmt::unwrap!(SCHED.callback(|cb| {
        if tick.is_multiple_of(3) {
            // Refused once the logger has done its rounds.
            refused_only_as(cb.wake(LOGGER), |e| matches!(e, Error::NoSuchTask(_)));
        }
    }));
    // The interrupt-level executor: steals from the task stuck in a blocking transfer.
    if IN_TRANSFER.load(Ordering::Acquire) {
        defmt::unwrap!(SCHED.run_executor(0));
    }
}

/// Lets the refusals a call site `expects` pass as the workload's normal course; any other is a
/// bug, and panics with its cause (which the host prints), rather than being dropped unseen.
fn refused_only_as(result: Result<(), Error>, expects: impl FnOnce(&Error) -> bool) {
    if let Err(e) = result {
        if !expects(&e) {
            defmt::panic!("the scheduler refused: {}", e);
        }
    }
}
