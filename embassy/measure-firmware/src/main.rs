//! What gotrace-embassy's hooks cost an Embassy firmware, under QEMU `mps2-an385` with
//! `-icount shift=0` (one instruction per nanosecond of virtual time, which the trace clock
//! counts: 25 MHz, so 40 instructions per tick). A measurement, not a test:
//! `scripts/measure-embassy.sh` builds it with and without feature `trace` and runs it.
//!
//! Tasks on a thread-mode executor yield, each round polling every one of them once: one task
//! (the measuring one), or 32 (feature `tasks-32`: 31 more that only yield, and a tracer of 32
//! task slots, where the look-up of a task's slot by its ID has to be quick). A poll is four
//! hooks: the wake inside it, its start and end, and the round's share of the executor's start
//! and end of a round; with tracing on, `GoStart` and `GoStop` (and `ProcStart`, `ProcStop` once a
//! round). `POLLS` polls are timed three ways, in the same firmware where the feature allows:
//!
//! * without feature `trace`: Embassy alone, no hooks (the baseline);
//! * with it, tracing off: the hooks keep the tracer's state, writing nothing;
//! * tracing on: every event written into a trace channel large enough for all of them (no host
//!   reads it: the sink is lossy, and the firmware says the figure is invalid if a batch was
//!   dropped).
//!
//! The lines it prints start with `measure:`; the exit status is 1 if anything went wrong.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use embassy_executor::{Executor, Spawner};
use gotrace_cortex_m_clock::Mps2;

/// The tasks that take turns: one, or 32 (feature `tasks-32`).
#[cfg(not(feature = "tasks-32"))]
const YIELDING: u32 = 1;
#[cfg(feature = "tasks-32")]
const YIELDING: u32 = 32;

/// Polls per measurement: `ROUNDS` rounds of the yielding tasks. An even number of rounds:
/// Embassy's run queue is last in, first out, so the measuring task is polled first and last by
/// turns, and only pairs of rounds hold a whole round of the others' polls between its yields.
const ROUNDS: u32 = 2000 / YIELDING / 2 * 2;
const POLLS: u32 = ROUNDS * YIELDING;

#[cfg(feature = "trace")]
mod traced {
    //! The tracer, its hooks and what only a traced build measures.
    use cortex_m::peripheral::SCB;
    use cortex_m_semihosting::hprintln;
    use gotrace_cortex_m_clock::{Mps2, TraceClock};
    use gotrace_embassy::{embassy_trace_hooks, Tracer};
    use gotrace_rtt::{RttSink, TraceRing};
    use gotrace_rtt_protocol::Backpressure;
    use gotrace_scheduler::encoder::Shared;
    use gotrace_scheduler::Config;
    use rtt_target::{rtt_init, ChannelMode};

    /// The contexts the tracer has, as the example's: thread mode (the only one that runs tasks
    /// here), SysTick, an interrupt executor's IRQ.
    pub const THREAD: usize = 0;
    const CONTEXTS: usize = 3;

    /// Large enough for every batch the tracing-on polls write (62 batches, 31.9 KB, with one task).
    const TRACE_CHANNEL_BYTES: usize = 128 * 1024;

    /// The Embassy example's 6 task slots, or one per task where more take turns.
    const TASKS: usize = if super::YIELDING > 6 {
        super::YIELDING as usize
    } else {
        6
    };

    /// The Embassy example's sizes otherwise: 2 executors, its contexts, 512-byte batches.
    pub static TRACER: Shared<Tracer<TraceClock<Mps2>, RttSink, TASKS, 2, CONTEXTS, 512>> =
        Shared::new(Tracer::new(
            // SAFETY: `attach` gives the encoder the clock `init` chose before tracing starts.
            unsafe { TraceClock::unset() },
            RttSink::new(),
            Config::MANUAL,
        ));

    /// As the example's: the context from ICSR's VECTACTIVE, read at every hook (its cost is
    /// part of the hooks'). Only thread mode runs tasks here.
    fn context() -> usize {
        // SAFETY: reading ICSR has no effect.
        let active = unsafe { (*SCB::PTR).icsr.read() } & 0x1ff;
        match active {
            0 => THREAD,
            // No context of the tracer's: the hook is refused, and counted.
            _ => CONTEXTS,
        }
    }

    embassy_trace_hooks!(TRACER, context());

    /// The trace channel, lossy: no host reads it.
    pub fn attach() {
        let channels = rtt_init! {
            up: {
                0: { size: TRACE_CHANNEL_BYTES, mode: ChannelMode::NoBlockSkip, name: "gotrace" }
            }
        };
        let ring = TraceRing::take(channels.up.0).unwrap();
        TRACER.with(|t| {
            let encoder = t.machine_mut().encoder_mut();
            encoder.sink_mut().attach(ring, Backpressure::Lossy);
            *encoder.clock_mut() = TraceClock::chosen();
        });
    }

    /// Times `POLLS` polls with tracing on and prints what they cost beyond `off`'s, per
    /// scheduling event; `false` if the figure is not to be trusted.
    pub async fn measure_on(off: u32) -> bool {
        if TRACER
            .with(|t| t.machine_mut().start_tracing(THREAD))
            .is_err()
        {
            hprintln!("measure: invalid: start_tracing refused");
            return false;
        }
        let (stats, sent) = TRACER.with(|t| {
            let encoder = t.machine().encoder();
            (encoder.stats(), encoder.sink().account())
        });
        let on = super::rounds().await;
        let (stats_after, sent_after) = TRACER.with(|t| {
            let encoder = t.machine().encoder();
            (encoder.stats(), encoder.sink().account())
        });
        let stopped = TRACER
            .with(|t| t.machine_mut().stop_tracing(THREAD))
            .is_ok();
        // The last batches, handed over as tracing stopped, dropped or not.
        let sent_in_the_end = TRACER.with(|t| t.machine().encoder().sink().account());
        super::report("tracing on", on);
        let events = stats_after
            .sched_events()
            .wrapping_sub(stats.sched_events());
        let extra = u64::from(on.saturating_sub(off)) * u64::from(super::per_tick());
        let (whole, tenths) = super::tenths(extra, u64::from(events.max(1)));
        hprintln!(
            "measure: {} scheduling events, {} bytes; tracing on - off: {}.{} instructions per scheduling event",
            events,
            stats_after.event_bytes.wrapping_sub(stats.event_bytes),
            whole,
            tenths
        );
        let dropped = sent_in_the_end.dropped_batches - sent.dropped_batches;
        hprintln!(
            "measure: batches handed to the trace channel: {}, dropped {}",
            sent_after.batches - sent.batches,
            dropped
        );
        let refusals = gotrace_embassy::refusals();
        hprintln!(
            "measure: hooks refused {}, made inside the lock {}",
            refusals.count,
            refusals.reentered
        );
        // A hook the tracer skipped (a task it did not find) is no refusal: the events tell.
        let expected = 2 * super::POLLS + 2 * super::ROUNDS;
        if dropped != 0 || !stopped || refusals != Default::default() || events != expected {
            hprintln!(
                "measure: invalid: a batch dropped, a hook not applied, tracing not stopped, or not {} events (GoStart and GoStop a poll, ProcStart and ProcStop a round)",
                expected
            );
            return false;
        }
        true
    }
}

/// The tasks beside the measuring one (feature `tasks-32`): they only yield.
#[cfg(feature = "tasks-32")]
#[embassy_executor::task(pool_size = YIELDING as usize - 1)]
async fn yielder() {
    loop {
        embassy_futures::yield_now().await;
    }
}

fn per_tick() -> u32 {
    1_000_000_000 / gotrace_cortex_m_clock::hz::<Mps2>()
}

/// `x / n` with one decimal.
fn tenths(x: u64, n: u64) -> (u64, u64) {
    let tenths = x * 10 / n;
    (tenths / 10, tenths % 10)
}

/// Prints a measurement's ticks as instructions per poll.
fn report(what: &str, ticks: u32) {
    let (whole, tenths) = tenths(u64::from(ticks) * u64::from(per_tick()), u64::from(POLLS));
    hprintln!(
        "measure: {}: {} polls of {} tasks in {} ticks, {}.{} instructions per poll",
        what,
        POLLS,
        YIELDING,
        ticks,
        whole,
        tenths
    );
}

/// The ticks of `ROUNDS` rounds: the measuring task's yields, each the others' too.
async fn rounds() -> u32 {
    let start = gotrace_cortex_m_clock::now();
    for _ in 0..ROUNDS {
        embassy_futures::yield_now().await;
    }
    gotrace_cortex_m_clock::now().wrapping_sub(start)
}

#[embassy_executor::task]
async fn measure() {
    // A warm-up round first: the first polls' set-up is not what a poll costs.
    rounds().await;
    let off = rounds().await;
    #[cfg(not(feature = "trace"))]
    report("Embassy alone, no hooks", off);
    #[cfg(feature = "trace")]
    {
        report("hooks, tracing off", off);
        if !traced::measure_on(off).await {
            debug::exit(debug::EXIT_FAILURE);
        }
    }
    debug::exit(debug::EXIT_SUCCESS);
}

fn spawn(spawner: Spawner) {
    #[cfg(feature = "tasks-32")]
    for _ in 1..YIELDING {
        spawner.spawn(yielder().unwrap());
    }
    spawner.spawn(measure().unwrap());
}

#[entry]
fn main() -> ! {
    let mut core = cortex_m::Peripherals::take().unwrap();
    if gotrace_cortex_m_clock::init::<Mps2>(&mut core.DCB, &mut core.DWT).is_none() {
        hprintln!("measure: invalid: no clock counts");
        debug::exit(debug::EXIT_FAILURE);
    }
    #[cfg(feature = "trace")]
    traced::attach();
    let executor = cortex_m::singleton!(: Executor = Executor::new()).unwrap();
    executor.run(spawn)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("measure: invalid: panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {}
}
