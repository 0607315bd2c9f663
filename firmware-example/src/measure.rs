//! Measurements (feature `measure`): what tracing costs per scheduling event, in the same
//! firmware with the encoder on and off.
//!
//! Under QEMU with `-icount shift=0` every instruction takes exactly 1 ns of virtual time and
//! SysTick counts the 25 MHz processor clock of virtual time, so 40 instructions per tick; the
//! loop below runs long enough that the tick's granularity vanishes. The same scheduler rounds
//! (five tasks yielding, one blocking and woken) run once with tracing off and once with it on:
//! the difference, divided by the scheduling events the encoder counted, is the encoder's cost
//! per event, timestamp and batch writes included. Run it with `gotrace record --lossy`: in
//! lossless mode the firmware spins while the host drains, and the spin counts as instructions.
//! Then the same firmware streams a longer trace, for the host's drain rate.

use gotrace_scheduler::{Step, TaskCx};

use crate::SCHED;

const ROUNDS: u32 = 2000;
/// Rounds traced after the measurement, for the host's drain rate.
const STREAM_ROUNDS: u32 = 30_000;
const YIELDERS: usize = 2;

fn yielder(_: &mut TaskCx<'_>) -> Step {
    Step::Yield
}

fn waiter(_: &mut TaskCx<'_>) -> Step {
    Step::Wait
}

fn rounds(waiter: gotrace_scheduler::TaskId) -> u32 {
    let start = crate::clock::raw_ticks();
    for _ in 0..ROUNDS {
        SCHED.wake(waiter).ok();
        SCHED.run_executor(0).expect("scheduler runs");
    }
    crate::clock::raw_ticks().wrapping_sub(start)
}

/// Instructions per call of `f`, over `ROUNDS` calls.
fn instructions_per_call(mut f: impl FnMut()) -> u64 {
    let start = crate::clock::raw_ticks();
    for _ in 0..ROUNDS {
        f();
    }
    let ticks = crate::clock::raw_ticks().wrapping_sub(start);
    u64::from(ticks) * (1_000_000_000 / crate::board::CPU_HZ as u64) / u64::from(ROUNDS)
}

/// A sink that drops everything: the encoder's own cost, without RTT.
struct Discard;

impl gotrace_encoder::Sink for Discard {
    fn begin_trace(&mut self, _: &[u8]) {}
    fn write_batch(&mut self, header: &[u8], payload: &[u8]) {
        core::hint::black_box((header, payload));
    }
}

/// Instructions per event of the encoder alone (no scheduler, no critical section, a sink that
/// drops everything), tracing or not: a GoStart/GoStop pair, then a GoStart/GoBlock/GoUnblock
/// triple, per round.
fn encoder_alone(tracing: bool) -> (u64, u64) {
    use gotrace_encoder::{Config, Encoder, GoSlot, Reason};
    let mut enc: Encoder<Discard, crate::clock::TraceClock, 1, 1, 1, { crate::BATCH_BYTES }> =
        Encoder::new(Discard, crate::clock::TraceClock, Config::MANUAL);
    if tracing {
        enc.start(0).expect("starts");
    }
    enc.proc_start(0, 0).expect("proc");
    enc.go_create(0, 0, yielder as *const () as usize as u64)
        .expect("create");
    let task = GoSlot::Task(0);
    let start_stop = instructions_per_call(|| {
        enc.go_start(0, task).expect("start");
        enc.go_stop(0, Reason::Yield).expect("stop");
    });
    let block_unblock = instructions_per_call(|| {
        enc.go_start(0, task).expect("start");
        enc.go_block(0, Reason::Wait).expect("block");
        enc.go_unblock(0, task).expect("unblock");
    });
    (start_stop / 2, block_unblock / 3)
}

pub fn run() {
    // The parts every event pays: its timestamp and its critical section.
    let mut clock = crate::clock::TraceClock;
    let empty = instructions_per_call(|| {});
    let timestamp = instructions_per_call(|| {
        core::hint::black_box(gotrace_encoder::Clock::now(&mut clock));
    });
    let critical_section = instructions_per_call(|| critical_section::with(|_| {}));
    defmt::info!(
        "measure: instructions per call: empty loop {}, timestamp {}, critical section {}",
        empty,
        timestamp,
        critical_section
    );
    for tracing in [false, true] {
        let (start_stop, block_unblock) = encoder_alone(tracing);
        defmt::info!(
            "measure: encoder alone, tracing {}, instructions per event: GoStart/GoStop {}, GoStart/GoBlock/GoUnblock {}",
            tracing,
            start_stop,
            block_unblock
        );
    }
    for _ in 0..YIELDERS {
        SCHED.spawn(0, yielder, 0).expect("room for tasks");
    }
    let waiter = SCHED.spawn(0, waiter, 0).expect("room for tasks");
    // Warm-up, then tracing off.
    rounds(waiter);
    let off = rounds(waiter);
    SCHED.start_tracing().expect("tracing starts");
    let before = SCHED.with_encoder(|enc| enc.stats());
    let on = rounds(waiter);
    let after = SCHED.with_encoder(|enc| enc.stats());
    for _ in 0..STREAM_ROUNDS / ROUNDS {
        rounds(waiter);
    }
    SCHED.stop_tracing().expect("tracing stops");
    let events = after.sched_events() - before.sched_events();
    let bytes = after.event_bytes - before.event_bytes;
    let instructions_per_tick = 1_000_000_000 / crate::board::CPU_HZ as u64;
    let extra = u64::from(on.saturating_sub(off)) * instructions_per_tick;
    defmt::info!(
        "measure: {} rounds: tracing off {} ticks, on {} ticks; {} scheduling events ({} bytes)",
        ROUNDS,
        off,
        on,
        events,
        bytes
    );
    defmt::info!(
        "measure: {}.{} instructions per scheduling event under -icount shift=0 ({} per round without tracing)",
        extra / events,
        (extra % events) * 10 / events,
        u64::from(off) * instructions_per_tick / u64::from(ROUNDS)
    );
    defmt::info!(
        "measure: encoder state {} bytes, of which {} are batch buffers",
        SCHED.with_encoder(|enc| core::mem::size_of_val(enc)),
        crate::board::CONTEXTS * crate::BATCH_BYTES
    );
}
