//! Measurements (feature `measure`): what tracing costs per scheduling event, in the same
//! firmware with the encoder on and off, and what the encoder keeps in RAM.
//!
//! Under QEMU with `-icount shift=0` every instruction takes exactly 1 ns of virtual time, and the
//! trace clock counts virtual time at its stated rate (25 MHz on the MPS2 boards: 40 instructions
//! per tick); the loops below run long enough that the tick's granularity vanishes. The same
//! scheduler rounds (two tasks yielding, one blocking and woken) run once with tracing off and
//! once with it on: the difference, divided by the scheduling events the encoder counted, is the
//! encoder's cost per event, timestamp and batch writes included. The critical section is taken
//! either way (it guards the scheduler's own state), so it is reported apart and added to the
//! per-event figure the goal counts.
//!
//! Every batch of the measured rounds is really copied into the RTT trace channel, as in real
//! use, and none may be dropped or waited for: built with `large-trace-channel` (128 KiB, see
//! `main.rs`), the channel holds all that the rounds write without wrapping, whenever the host
//! reads it. Then the count does not depend on the host, whose halts (gdbstub) add no guest
//! instructions under icount: it is the same in every run. (On the usual 8 KiB channel most
//! batches of the lossy run were dropped, how many depending on when the host had last read: the
//! figure moved between runs, and it left out most of the copying that real use pays.) The
//! firmware checks it: it reports the batches dropped during the measured rounds, and flags the
//! measurement invalid (`measure: invalid`, which fails `scripts/measure-firmware.sh`) if any was,
//! or if the channel could have wrapped. Run it with `gotrace record --lossy`: after the
//! measurement the firmware streams a longer trace, most of it dropped when lossy; the script
//! runs that losslessly without icount, on the usual 8 KiB channel, for the host's drain rate.
//!
//! The trace clock ticks every 40 instructions, and the instructions before the measurement
//! depend on when the host's start command came: the tick totals may differ by one between runs
//! (40 instructions in a million, 0.0025 per event), below the figure's last digit.

use gotrace_encoder::{Clock, GoSlot, GoStatus, ProcStatus, Scheduling};
use gotrace_scheduler::{Step, TaskCx};

use crate::SCHED;
type TraceClock = gotrace_cortex_m_clock::TraceClock<crate::board::ClockCounters>;

const ROUNDS: u32 = 2000;
/// Rounds traced after the measurement, for the host's drain rate.
const STREAM_ROUNDS: u32 = 30_000;
const YIELDERS: usize = 2;
/// Instructions per second under `-icount shift=0`.
const INSTRUCTIONS_HZ: u64 = 1_000_000_000;

fn yielder(_: &mut TaskCx<'_>) -> Step {
    Step::Yield
}

fn waiter(_: &mut TaskCx<'_>) -> Step {
    Step::Wait
}

/// Instructions per tick of the trace clock.
fn instructions_per_tick() -> u64 {
    INSTRUCTIONS_HZ / TraceClock::chosen().frequency().max(1)
}

fn ticks() -> u32 {
    gotrace_cortex_m_clock::now()
}

fn rounds(waiter: gotrace_scheduler::TaskId) -> u32 {
    let start = ticks();
    for _ in 0..ROUNDS {
        SCHED.wake(waiter).ok();
        SCHED.run_executor(0).expect("scheduler runs");
    }
    ticks().wrapping_sub(start)
}

/// Instructions of `ROUNDS` calls of `f`, the loop's own included: kept whole, so that a
/// difference of two loops is divided only at the end (a tick is 40 instructions, 0.02 per call).
fn instructions_over_rounds(mut f: impl FnMut()) -> u64 {
    let start = ticks();
    for _ in 0..ROUNDS {
        f();
    }
    let elapsed = ticks().wrapping_sub(start);
    u64::from(elapsed) * instructions_per_tick()
}

/// Instructions per call of `f`, over `ROUNDS` calls, the loop's own included.
fn instructions_per_call(f: impl FnMut()) -> u64 {
    instructions_over_rounds(f) / u64::from(ROUNDS)
}

/// A sink that drops everything: the encoder's own cost, without RTT.
struct Discard;

impl gotrace_encoder::Sink for Discard {
    fn begin_trace(&mut self, _: &[u8]) {}
    fn write_batch(&mut self, _: u64, header: &[u8], payload: &[u8]) -> gotrace_encoder::Offer {
        core::hint::black_box((header, payload));
        gotrace_encoder::Offer::Taken
    }
    fn end_trace(&mut self) {}
    fn untraced(&mut self, _: u32) {}
}

/// The scheduling state of `encoder_alone` when tracing starts: thread mode holds executor 0,
/// and the one task is runnable.
struct OneTask;

impl Scheduling for OneTask {
    fn context_proc(&self, _: usize) -> Option<usize> {
        Some(0)
    }

    fn context_go(&self, _: usize) -> Option<GoSlot> {
        None
    }

    fn proc_status(&self, _: usize) -> ProcStatus {
        ProcStatus::Running
    }

    fn go_status(&self, _: GoSlot) -> GoStatus {
        GoStatus::Runnable
    }
}

/// Instructions per event of the encoder alone (no scheduler, no critical section, a sink that
/// drops everything), tracing or not: a GoStart/GoStop pair, then a GoStart/GoBlock/GoUnblock
/// triple, per round. No generation ends here.
fn encoder_alone(tracing: bool) -> (u64, u64) {
    use gotrace_encoder::{Config, Encoder, Reason};
    let mut enc: Encoder<TraceClock, Discard, 1, 1, 1, { crate::BATCH_BYTES }> =
        Encoder::new(TraceClock::chosen(), Discard, Config::MANUAL);
    if tracing {
        enc.start(0, &OneTask).expect("starts");
    }
    let task = GoSlot::Task(0);
    let start_stop = instructions_per_call(|| {
        enc.go_start(0, task, &OneTask);
        enc.go_stop(0, Reason::Yield, &OneTask);
    });
    let block_unblock = instructions_per_call(|| {
        enc.go_start(0, task, &OneTask);
        enc.go_block(0, Reason::Wait, &OneTask);
        enc.go_unblock(0, task, &OneTask);
    });
    (start_stop / 2, block_unblock / 3)
}

pub fn run() {
    // The parts every event pays: its timestamp and its critical section. The empty loop is
    // the loop's own cost, to take off the others: its body must be opaque, or the compiler
    // removes the loop and leaves nothing to take off (it did: "empty loop 0").
    let empty = instructions_over_rounds(|| core::hint::black_box(()));
    // As the encoder reads its own copy of the clock. In this loop the compiler loads its
    // register and mask once, before the loop (the disassembly shows the `ldrd` there): the
    // figure is the counter's load, the XOR, the store `black_box` makes and the loop's own 2.
    let mut clock = TraceClock::chosen();
    core::hint::black_box(&mut clock);
    let timestamp = instructions_per_call(|| {
        core::hint::black_box(clock.now());
    });
    let critical_section = instructions_over_rounds(|| critical_section::with(|_| {}));
    let per_call = |total: u64| total / u64::from(ROUNDS);
    defmt::info!(
        "measure: instructions per call, the loop's own included: empty loop {}, timestamp {}, critical section {}",
        per_call(empty),
        timestamp,
        per_call(critical_section)
    );
    // An empty loop of no instructions means the compiler removed it, and the loop's own cost
    // stayed in the critical section's, and in the figure the goal counts.
    if empty == 0 {
        defmt::error!(
            "measure: invalid: the empty loop measured no instructions (the compiler removed it), so the loop's own cost is counted as the critical section's"
        );
    }
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
    crate::set_tracing(true);
    let (before, sent_before) = SCHED.with_encoder(|enc| (enc.stats(), enc.sink().account()));
    let on = rounds(waiter);
    let (after, sent) = SCHED.with_encoder(|enc| (enc.stats(), enc.sink().account()));
    for _ in 0..STREAM_ROUNDS / ROUNDS {
        rounds(waiter);
    }
    crate::set_tracing(false);
    let events = u64::from(after.sched_events().wrapping_sub(before.sched_events())).max(1);
    let bytes = after.event_bytes.wrapping_sub(before.event_bytes);
    let per_tick = instructions_per_tick();
    let extra = u64::from(on.saturating_sub(off)) * per_tick;
    defmt::info!(
        "measure: {} rounds: tracing off {} ticks, on {} ticks; {} scheduling events ({} bytes)",
        ROUNDS,
        off,
        on,
        events,
        bytes
    );
    let with_cs = extra + events * critical_section.saturating_sub(empty) / u64::from(ROUNDS);
    defmt::info!(
        "measure: {}.{} instructions per scheduling event under -icount shift=0, tracing on - off ({} per round without tracing); with one critical section per event: {}.{}",
        extra / events,
        (extra % events) * 10 / events,
        u64::from(off) * per_tick / u64::from(ROUNDS),
        with_cs / events,
        (with_cs % events) * 10 / events
    );
    // Since tracing began (nothing was written to the channel before): the batches copied in.
    let copied = sent.bytes - sent.dropped_bytes;
    let dropped = sent.dropped_batches - sent_before.dropped_batches;
    defmt::info!(
        "measure: the measured rounds handed over {} batches ({} bytes) to the trace channel; the channel ({} bytes) holds {} bytes of batches since tracing began; batches dropped during the measured rounds: {}",
        sent.batches - sent_before.batches,
        sent.bytes - sent_before.bytes,
        crate::TRACE_CHANNEL_BYTES,
        copied,
        dropped
    );
    // The begin-trace header is shorter than a batch buffer: past this, the ring may have
    // wrapped, and how much room it had would depend on when the host read.
    if dropped != 0 || copied as usize + crate::BATCH_BYTES >= crate::TRACE_CHANNEL_BYTES {
        defmt::error!(
            "measure: invalid: the trace channel dropped batches or may have wrapped during the measured rounds, so the figures above depend on when the host read it"
        );
    }
    // The sink (gotrace-rtt's) and the clock (gotrace-cortex-m-clock's) are kept in the encoder: counted
    // apart from the encoder's own bookkeeping.
    let (encoder, buffers, sink, clock) = SCHED.with_encoder(|enc| {
        (
            core::mem::size_of_val(enc),
            buffer_bytes(enc),
            core::mem::size_of_val(enc.sink()),
            core::mem::size_of_val(enc.clock_mut()),
        )
    });
    defmt::info!(
        "measure: encoder state {} bytes: batch buffers and string/stack tables {}, RTT sink {}, clock {}, the rest (beyond buffers) {}",
        encoder,
        buffers,
        sink,
        clock,
        encoder.saturating_sub(buffers + sink + clock)
    );
}

fn buffer_bytes<C, S, const GS: usize, const PS: usize, const MS: usize, const BUF: usize>(
    _: &gotrace_encoder::Encoder<C, S, GS, PS, MS, BUF>,
) -> usize
where
    S: gotrace_encoder::Sink,
    C: Clock,
{
    gotrace_encoder::Encoder::<C, S, GS, PS, MS, BUF>::BUFFER_BYTES
}
