//! An [Embassy](https://embassy.dev) firmware traced in Go's execution-trace format by
//! `gotrace-embassy`, through `embassy-executor`'s `trace` hooks, under QEMU `mps2-an385`, and
//! recorded with `gotrace record --qemu`. What the trace shows:
//!
//! * two executors, two Ps: the thread-mode `Executor` and an `InterruptExecutor` on IRQ 30,
//!   which preempts thread mode: `urgent` runs on context 2 while `yielder` is mid-poll on
//!   context 0, which signalled it;
//! * wakes from an interrupt: `ticker`, woken by SysTick (a `GoUnblock` on context 1);
//! * spawns from everywhere: `urgent` onto the interrupt executor from start-up code before any
//!   executor runs, the thread-mode tasks from `Executor::run`'s start-up closure, and a
//!   short-lived `child` from `yielder`, twice, the second in the storage the first left;
//! * generations ended by SysTick every 5 ms, or at the period of the host's start command, whose
//!   backpressure (lossless or lossy; lossy for a flight recorder, which this firmware's
//!   gotrace-rtt is built without) the trace channel follows too; the session descriptor says
//!   so to the host;
//! * the end: `supervisor` stops tracing once the others finish (never, with the feature
//!   `until-stopped`, whose tasks go on for good) or the host sends its stop command, waits for the host to read the trace channel empty (2 s at most: there may be no
//!   host), and exits; with status 1 if
//!   the tracer did not apply every hook (refused, or made inside its lock), which it prints.
//!
//! Tasks are named after their `#[embassy_executor::task]` pools (`…::POOL` statics): the task ID
//! Embassy gives the hooks is the address of the task's storage there, which gotrace-embassy
//! writes as the task's creation stack, and `gotrace record` looks up in the ELF's symbols.
#![no_std]
#![no_main]

use core::cell::RefCell;
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::scb::SystemHandler;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SCB;
use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::{debug, hprintln};
use embassy_executor::{Executor, InterruptExecutor, Spawner};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::signal::Signal;
use gotrace_cortex_m_clock::{Counters, Mps2, TraceClock};
use gotrace_embassy::{embassy_trace_hooks, Refusals, Tracer};
use gotrace_rtt::{AnnounceError, ControlChannel, RingWatch, RttSink, SessionChannel, TraceRing};
use gotrace_rtt_protocol::{
    Backpressure, ClockSource, Command, SessionDescriptor, PROTOCOL_VERSION,
};
use gotrace_scheduler::encoder::Shared;
use gotrace_scheduler::Config;
use rtt_target::{rtt_init, ChannelMode};

/// The contexts the hooks run on (Go's Ms): thread mode, SysTick, the interrupt executor's IRQ.
const THREAD: usize = 0;
const SYSTICK: usize = 1;
const URGENT: usize = 2;
const CONTEXTS: usize = 3;

/// The trace channel's and each context's batch buffer's sizes, which the session descriptor
/// states.
const TRACE_CHANNEL_BYTES: usize = 8192;
const BATCH_BYTES: usize = 512;

/// Task slots: 5 tasks are alive at most (`urgent`, `yielder`, `ticker`, `supervisor`, a `child`);
/// with the feature `too-few-task-slots`, one slot too few, so that `child` goes untraced.
const TASK_SLOTS: usize = if cfg!(feature = "too-few-task-slots") {
    4
} else {
    6
};

/// The tracer: its task slots, 2 executors, 3 contexts, 512-byte batches.
static TRACER: Shared<Tracer<TraceClock<Mps2>, RttSink, TASK_SLOTS, 2, CONTEXTS, BATCH_BYTES>> =
    Shared::new(Tracer::new(
        // SAFETY: `main` gives the encoder the clock `init` chose before tracing starts.
        unsafe { TraceClock::unset() },
        RttSink::new(),
        // All zeros, as the rest of the tracer's first state: the static is then in `.bss`, with
        // no image of it in flash. `main` sets the limit on a generation's bytes.
        Config::MANUAL,
    ));

/// The context of the code running now, from ICSR's VECTACTIVE (the active exception number).
fn context() -> usize {
    // SAFETY: reading ICSR has no effect.
    let active = unsafe { (*SCB::PTR).icsr.read() } & 0x1ff;
    match active {
        0 => THREAD,
        15 => SYSTICK,
        n if n == 16 + u32::from(UrgentIrq.number()) => URGENT,
        // No context of the tracer's: the hook is refused, and counted, not traced wrong.
        _ => CONTEXTS,
    }
}

embassy_trace_hooks!(TRACER, context());

/// The interrupt executor, on IRQ 30: an external interrupt of the mps2-an385 NVIC that no
/// peripheral in QEMU raises.
static URGENT_EXECUTOR: InterruptExecutor = InterruptExecutor::new();

#[derive(Clone, Copy)]
struct UrgentIrq;

// SAFETY: 30 is a valid external interrupt number of the mps2-an385, used by nothing else.
unsafe impl InterruptNumber for UrgentIrq {
    fn number(self) -> u16 {
        30
    }
}

/// `yielder` wakes `urgent`; SysTick wakes `ticker`; the last worker to finish, or the host's
/// stop command, wakes `supervisor`.
static URGENT_WORK: Signal<CriticalSectionRawMutex, ()> = Signal::new();
static TICK: Signal<CriticalSectionRawMutex, ()> = Signal::new();
static DONE: Signal<CriticalSectionRawMutex, ()> = Signal::new();

/// The workers (`urgent`, `yielder`, its two children, `ticker`), and how many have finished.
const WORKERS: u32 = 5;
static FINISHED: AtomicU32 = AtomicU32::new(0);

/// How long the end waits for the host to read the trace channel empty.
const DRAIN_WAIT_MS: u32 = 2000;

/// SysTicks so far (1 ms each).
static TICKS: AtomicU32 = AtomicU32::new(0);

/// SysTicks per generation: the host's start command's period in whole milliseconds, 5 without
/// one.
static GENERATION_TICKS: AtomicU32 = AtomicU32::new(5);

/// The host's commands, polled by SysTick (thread mode is the executor's).
static CONTROL: Mutex<CriticalSectionRawMutex, RefCell<Option<ControlChannel>>> =
    Mutex::new(RefCell::new(None));

/// Whether the tasks go on until the host's stop (feature `until-stopped`) rather than finish:
/// then only the children finish, again and again, and only the stop ends the trace.
const UNTIL_STOPPED: bool = cfg!(feature = "until-stopped");

fn finished() {
    if FINISHED.fetch_add(1, Ordering::Relaxed) + 1 == WORKERS && !UNTIL_STOPPED {
        DONE.signal(());
    }
}

#[embassy_executor::task]
async fn yielder(spawner: Spawner) {
    for round in (1..=40u32).cycle() {
        cortex_m::asm::delay(2_000);
        if round % 10 == 0 {
            // Pends IRQ 30: `urgent` runs there and then, inside this poll.
            URGENT_WORK.signal(());
        }
        if round % 20 == 5 {
            // The second spawn reuses the storage the first child finished with.
            spawner.spawn(child().unwrap());
        }
        embassy_futures::yield_now().await;
        if round == 40 && !UNTIL_STOPPED {
            break;
        }
    }
    finished();
}

#[embassy_executor::task]
async fn child() {
    embassy_futures::yield_now().await;
    finished();
}

#[embassy_executor::task]
async fn ticker() {
    for tick in (1..=20u32).cycle() {
        TICK.wait().await;
        if tick == 20 && !UNTIL_STOPPED {
            break;
        }
    }
    finished();
}

#[embassy_executor::task]
async fn urgent() {
    for work in (1..=4u32).cycle() {
        URGENT_WORK.wait().await;
        cortex_m::asm::delay(500);
        if work == 4 && !UNTIL_STOPPED {
            break;
        }
    }
    finished();
}

#[embassy_executor::task]
async fn supervisor(trace_channel: RingWatch) {
    DONE.wait().await;
    // The last generation, then the end record; then the host reads the channel empty before
    // the exit takes what is left in it.
    TRACER
        .with(|t| t.machine_mut().stop_tracing(THREAD))
        .expect("stop_tracing");
    // For 2 s at most: with no host reading (no start command came, and the firmware traced
    // lossy on its own) `RingWatch::flush` would wait for ever.
    let start = gotrace_cortex_m_clock::now();
    let limit = gotrace_cortex_m_clock::ticks_in_us::<Mps2>(DRAIN_WAIT_MS * 1000);
    while !trace_channel.is_drained() && gotrace_cortex_m_clock::now().wrapping_sub(start) < limit {
    }
    // A hook not applied wrote nothing: the trace is valid but misses what it stood for.
    let refusals = gotrace_embassy::refusals();
    if refusals != Refusals::default() {
        hprintln!("gotrace-embassy did not apply every hook: {:?}", refusals);
        debug::exit(debug::EXIT_FAILURE);
    } else {
        debug::exit(debug::EXIT_SUCCESS);
    }
}

#[exception]
fn SysTick() {
    // A generation every period, ended from a timer that also reads the clock well within each
    // wrap (scheduler/README.md, "A timer that reads the clock"). Refused while tracing is off.
    let period = GENERATION_TICKS.load(Ordering::Relaxed);
    if TICKS.fetch_add(1, Ordering::Relaxed) % period == period - 1 {
        TRACER
            .with(|t| t.machine_mut().advance_generation(SYSTICK))
            .ok();
    }
    // A waker called from an interrupt: `ticker`'s GoUnblock on context 1.
    TICK.signal(());
    let stop = CONTROL.lock(|control| {
        let command = control.borrow_mut().as_mut().and_then(ControlChannel::poll);
        matches!(command, Some(Command::Stop))
    });
    if stop {
        DONE.signal(());
    }
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == UrgentIrq.number() as i16 {
        // SAFETY: called from the executor's interrupt only, after `start`.
        unsafe { URGENT_EXECUTOR.on_interrupt() };
    } else {
        panic!("unexpected interrupt {irqn}");
    }
}

#[entry]
fn main() -> ! {
    let channels = rtt_init! {
        up: {
            0: { size: TRACE_CHANNEL_BYTES, mode: ChannelMode::BlockIfFull, name: "gotrace" }
            // gotrace-rtt's `SessionChannel` writes it (never waiting, whatever the mode).
            1: { size: 128, name: "gotrace-session" }
        }
        down: {
            0: { size: 64, name: "gotrace-control" }
        }
    };
    let mut core = cortex_m::Peripherals::take().unwrap();
    let clock = gotrace_cortex_m_clock::init::<Mps2>(&mut core.DCB, &mut core.DWT).unwrap();

    // The host's commands: how to trace (gotrace record's --lossy, --generation-us), then Stop
    // (--duration, Ctrl-C), which SysTick polls.
    let mut control = ControlChannel::new(channels.down.0);
    let (backpressure, generation_us) = wait_for_start(&mut control);
    CONTROL.lock(|c| *c.borrow_mut() = Some(control));
    // Whole SysTicks, at most a minute: well within half the 25 MHz clock's wrap (86 s), which
    // the encoder needs between two readings of a context.
    let generation_ticks = match generation_us {
        0 => 5,
        us => us.div_ceil(1000).min(60_000),
    };
    GENERATION_TICKS.store(generation_ticks, Ordering::Relaxed);

    // The trace channel, written by gotrace-rtt's sink: whole batches, lossless (waiting for the
    // host) or lossy as the host said (lossy for a flight recorder: this firmware's gotrace-rtt is
    // built without the feature), the end record when tracing stops.
    let ring = TraceRing::take(channels.up.0).unwrap();
    let trace_channel = ring.watch();
    let backpressure = TRACER.with(|t| {
        let encoder = t.machine_mut().encoder_mut();
        encoder.sink_mut().attach(ring, backpressure);
        *encoder.clock_mut() = TraceClock::chosen();
        // A generation ends at its period (SysTick), or at 16 KiB, whichever comes first.
        encoder.config_mut().generation_bytes = 16 * 1024;
        // The mode announced is the one the sink applies.
        encoder.sink_mut().backpressure()
    });
    announce_session(
        SessionChannel::take(channels.up.1),
        clock,
        backpressure,
        generation_ticks * 1000,
    );
    // Before the first spawn: every task is traced from its creation.
    TRACER
        .with(|t| t.machine_mut().start_tracing(THREAD))
        .unwrap();

    // SysTick every 1 ms; IRQ 30 above it, so that the interrupt executor preempts both thread
    // mode and SysTick (its priority is set before `start`, as Embassy requires).
    // SAFETY: no priority-based critical section relies on these levels.
    unsafe {
        core.SCB.set_priority(SystemHandler::SysTick, 0x80);
        core.NVIC.set_priority(UrgentIrq, 0x40);
    }
    core.SYST.set_clock_source(SystClkSource::Core);
    core.SYST.set_reload(Mps2::CPU_HZ / 1000 - 1);
    core.SYST.clear_current();
    core.SYST.enable_counter();
    core.SYST.enable_interrupt();

    // A spawn from start-up code, on no executor: the tracer takes the interrupt executor's P for
    // the creation. The spawn pends IRQ 30, which polls `urgent` at once.
    URGENT_EXECUTOR.start(UrgentIrq).spawn(urgent().unwrap());

    let executor = cortex_m::singleton!(: Executor = Executor::new()).unwrap();
    executor.run(|spawner| {
        spawner.spawn(yielder(spawner).unwrap());
        spawner.spawn(ticker().unwrap());
        spawner.spawn(supervisor(trace_channel).unwrap());
    })
}

/// The host's start command, or the defaults once 2 s have passed without one: lossy, because
/// without a start command there may be no host at all, and a lossless trace channel that nobody
/// reads would stop the firmware at its first full ring.
fn wait_for_start(control: &mut ControlChannel) -> (Backpressure, u32) {
    let start = gotrace_cortex_m_clock::now();
    let limit = gotrace_cortex_m_clock::ticks_in_us::<Mps2>(2_000_000);
    while gotrace_cortex_m_clock::now().wrapping_sub(start) < limit {
        if let Some(Command::Start {
            backpressure,
            generation_period_us,
        }) = control.poll()
        {
            return (backpressure, generation_period_us);
        }
    }
    hprintln!("no start command from the host: tracing lossy with defaults");
    (Backpressure::Lossy, 0)
}

/// Tells the host how this session traces, which its summary confirms: the session descriptor,
/// on its own channel.
fn announce_session(
    session: Option<SessionChannel>,
    clock: ClockSource,
    backpressure: Backpressure,
    generation_us: u32,
) {
    let sent = session.ok_or("the session channel is not in the RTT control block");
    let sent = sent.and_then(|mut session| {
        session
            .announce(&SessionDescriptor {
                protocol_version: PROTOCOL_VERSION,
                encoder_version: gotrace_scheduler::encoder::VERSION,
                clock,
                clock_hz: u64::from(gotrace_cortex_m_clock::hz::<Mps2>()),
                trace_channel_bytes: TRACE_CHANNEL_BYTES as u32,
                batch_buffer_bytes: BATCH_BYTES as u32,
                batch_buffers: CONTEXTS as u32,
                backpressure,
                generation_period_us: generation_us,
            })
            .map_err(|error| match error {
                AnnounceError::ChannelTooSmall => "the session channel is too small for it",
                AnnounceError::Full => "the session channel is full",
            })
    });
    if let Err(why) = sent {
        hprintln!("no session descriptor: {}", why);
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}
