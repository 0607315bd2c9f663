//! Traces written by the encoder alone (no scheduler), judged by Go's parser: every event kind the
//! device writes, generation boundaries, and tracing restarted.

mod common;

use common::rig::Rig;
use common::{go_accepts, go_wire, StepClock};
use std::cell::Cell;
use std::rc::Rc;

use gotrace_encoder::{Annotation, Config, GoSlot, Offer, ProcStatus, Sink, VecSink};

type Enc = Rig<StepClock, 3, 2, 4, 128>;

fn encoder() -> Enc {
    Rig::new(StepClock(100), Config::MANUAL)
}

/// One trace from a clock at 0, in which thread mode (M0) runs P0 and starts and stops task 0
/// `rounds` times: the load of the tests of limits (buffer sizes, generation bounds, sequence
/// numbers).
fn one_task_started_and_stopped<const GS: usize, const BUF: usize>(
    config: Config,
    rounds: usize,
) -> Rig<StepClock, 1, 1, GS, BUF> {
    let mut e = Rig::new(StepClock(0), config);
    e.start(0);
    e.proc_start(0, 0);
    e.go_create(0, 0, 0x100);
    for _ in 0..rounds {
        e.go_start(0, GoSlot::Task(0));
        e.go_stop(0);
    }
    e.e.stop(0).unwrap();
    e
}

#[test]
fn every_event_kind_in_several_generations_is_accepted() {
    let mut e = encoder();
    // State before tracing: a task created and running on P0 in thread mode (M0).
    e.proc_start(0, 0);
    e.go_create(0, 0, 0x0800_1234);
    e.go_start(0, GoSlot::Task(0));
    e.start(0);

    e.go_create(0, 1, 0x0800_2000);
    let w = &e.w;
    e.e.annotate(0, Annotation::task_begin(1, 0, "transfer"), w);
    e.e.annotate(0, Annotation::region_begin(1, "fill"), w);
    e.e.annotate(0, Annotation::log(1, "bytes", "512"), w);
    e.e.annotate(0, Annotation::region_end(1, "fill"), w);
    e.e.annotate(0, Annotation::label("main"), w);
    e.e.annotate(0, Annotation::task_end(1), w);
    e.go_block(0);
    e.go_start(0, GoSlot::Task(1));
    e.go_unblock(0, GoSlot::Task(0));
    // A transfer that keeps its executor (GoSyscallEnd).
    e.syscall_begin(0);
    assert!(e.syscall_end(0));
    // Task 1 blocks in a transfer; an interrupt level (M1) steals P0 and runs task 0.
    e.syscall_begin(0);
    e.advance(0);
    e.proc_steal(1, 0);
    e.proc_start(1, 0);
    e.go_start(1, GoSlot::Task(0));
    e.go_stop(1);
    e.proc_stop(1);
    // Back in thread mode: the P was lost, take it again.
    assert!(!e.syscall_end(0));
    e.proc_start(0, 0);
    e.go_start(0, GoSlot::Task(1));
    e.go_destroy(0);
    e.advance(0);
    // An interrupt callback (M2) takes P1, runs, and exits still holding it.
    e.callback_enter(2);
    e.proc_start(2, 1);
    assert!(!e.syscall_end(2));
    e.go_start(2, GoSlot::Callback(2));
    e.syscall_begin(2);
    e.callback_exit(2);
    assert_eq!(e.w.procs[1].0, ProcStatus::Abandoned);
    e.advance(0);
    // The same callback again, same M, same goroutine ID; it steals its abandoned P back.
    e.callback_enter(2);
    e.proc_steal(2, 1);
    e.callback_exit(2);
    e.e.stop(0).unwrap();

    // Tracing off: state still followed; then a second trace.
    e.go_start(0, GoSlot::Task(0));
    e.start(1);
    e.go_stop(0);
    e.e.stop(1).unwrap();

    let traces = &e.e.sink().traces;
    assert_eq!(traces.len(), 2);
    let first = go_accepts("every-event-kind", &traces[0]);
    go_accepts("restarted", &traces[1]);
    if let Some(out) = first {
        assert!(out.contains(r#"Category="bytes" Message="512""#), "{out}");
        // The callback goroutine is created twice on M2 with the same ID, like the M ID.
        let created: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("M=2 ") && l.contains("NotExist->Syscall"))
            .map(|l| {
                l.split_whitespace()
                    .find(|w| w.starts_with("GoID="))
                    .unwrap()
            })
            .collect();
        assert_eq!(created.len(), 2, "{out}");
        assert_eq!(created[0], created[1]);
        // The transfer that kept P0 returns to running on it.
        assert!(
            out.lines()
                .any(|l| l.starts_with("M=0 P=0 ") && l.contains("Syscall->Running")),
            "{out}"
        );
        // The steal on M1 is seen as P0 leaving its blocked owner.
        assert!(
            out.lines()
                .any(|l| l.starts_with("M=1 ") && l.contains("ProcID=0 Running->Idle")),
            "{out}"
        );
    }
}

#[test]
fn small_buffers_and_byte_limits_split_batches_and_generations() {
    let config = Config {
        generation_ticks: 0,
        generation_bytes: 100,
    };
    let e: Rig<StepClock, 1, 1, 2, 64> = one_task_started_and_stopped(config, 200);
    assert!(e.e.stats().generations > 10, "{:?}", e.e.stats());
    go_accepts("small-buffers", &e.e.sink().traces[0]);
}

#[test]
fn generations_end_by_period() {
    // 64-byte batches: an event goes out of line (where the period is checked) every 15 or so.
    let config = Config {
        generation_ticks: 60,
        generation_bytes: 0,
    };
    let e: Rig<StepClock, 1, 1, 2, 64> = one_task_started_and_stopped(config, 100);
    // The step clock advances 3 ticks per read, so 600 ticks in all: at most one generation per
    // 60 ticks, and each one ends within a batch of events (15 reads, 45 ticks) of its period.
    let gens = e.e.stats().generations;
    assert!(
        (600 / (60 + 45)..=600 / 60 + 1).contains(&gens),
        "{gens} generations"
    );
    go_accepts("by-period", &e.e.sink().traces[0]);
}

#[test]
fn long_values_and_a_clock_past_32_bits_are_accepted() {
    // Starts just below 2^32, so the clock's high half changes inside the trace; task 0, started
    // 150 times in one generation (and unblocked), needs two-byte sequence numbers.
    let mut e: Enc = Rig::new(StepClock((1 << 32) - 600), Config::MANUAL);
    e.start(0);
    e.proc_start(0, 0);
    for t in 0..3 {
        e.go_create(0, t, 0x100 * t as u64);
    }
    for i in 0..300 {
        let task = GoSlot::Task([0, 1, 0, 2][i % 4]);
        e.go_start(0, task);
        if i % 7 == 0 {
            e.go_block(0);
            e.go_unblock(0, task);
        } else {
            e.go_stop(0);
        }
    }
    e.e.stop(0).unwrap();
    assert_eq!(e.e.stats().generations, 1);
    let trace = &e.e.sink().traces[0];
    if let Some(out) = go_accepts("long-values", trace) {
        assert!(out.lines().count() > 600, "{out}");
    }
    if let Some(wire) = go_wire("long-values-wire", trace) {
        let highest = wire
            .lines()
            .filter(|l| l.starts_with("GoStart "))
            .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("g_seq=")))
            .map(|seq| seq.parse::<u64>().unwrap())
            .max();
        assert!(highest >= Some(128), "{highest:?}\n{wire}");
    }
}

#[test]
fn a_clock_wrap_crossed_on_the_inline_path_keeps_time_going_forward() {
    // One context only, so no other batch keeps a reading from before the wrap: the inline path
    // writes events on both sides of it into one batch, and the encoder must still count the
    // wrap when it next extends the clock (at the batch's hand-over), or every later time is 2^32
    // ticks early and the reader can only force each one a nanosecond past the last.
    let mut e: Rig<StepClock, 1, 1, 1, 128> = Rig::new(StepClock((1 << 32) - 600), Config::MANUAL);
    e.start(0);
    e.proc_start(0, 0);
    e.go_create(0, 0, 0x100);
    for _ in 0..300 {
        e.go_start(0, GoSlot::Task(0));
        e.go_stop(0);
    }
    e.e.stop(0).unwrap();
    let Some(out) = go_accepts("inline-wrap", &e.e.sink().traces[0]) else {
        return;
    };
    // The clock reads 3 ticks of 1 µs apart, so events that are not the same reading are at
    // least 3000 ns apart, and the 300 rounds span about 1.8 ms. (Go times the trace's last
    // `Sync` itself, a nanosecond after the last event.)
    let times: Vec<i64> = out
        .lines()
        .filter(|l| !l.contains(" Sync "))
        .filter_map(|l| l.split_once(" Time=")?.1.split(' ').next()?.parse().ok())
        .collect();
    assert!(times.len() > 600, "{out}");
    for pair in times.windows(2) {
        assert!(
            pair[1] == pair[0] || pair[1] - pair[0] >= 3000,
            "times {} then {}: forced forward, not read from the clock",
            pair[0],
            pair[1]
        );
    }
    let span = times[times.len() - 1] - times[0];
    assert!((1_800_000..1_900_000).contains(&span), "span {span} ns");
}

/// A clock that reads what the test sets, at 1 GHz: a tick is a nanosecond of Go's times.
struct SetClock(std::rc::Rc<std::cell::Cell<u64>>);

impl gotrace_encoder::Clock for SetClock {
    fn now(&mut self) -> u32 {
        self.0.get() as u32
    }

    fn frequency(&self) -> u64 {
        1_000_000_000
    }
}

#[test]
fn a_wrap_crossed_inline_by_a_batch_begun_long_before_is_counted() {
    // A batch rebased just after one wrap, then written on the out-of-line path at gaps under
    // half a wrap, up to just before the next wrap, then inline across it: its last reading (200)
    // is above its base (100), so the wrap was told by neither, unless a batch whose base is half
    // a wrap old is handed over as one whose last reading is.
    let now = std::rc::Rc::new(std::cell::Cell::new((1u64 << 32) - 100_000));
    let mut e: Rig<SetClock, 1, 1, 1, 256> = Rig::new(SetClock(now.clone()), Config::MANUAL);
    let wrap = 1u64 << 32;
    e.start(0);
    // P0 stopped and started in turn; a goroutine created (out of line) after the crossing, a
    // generation ended after it: each extends the clock, and must count the wrap.
    let times = [
        wrap + 100,
        wrap + 100 + (1 << 30),
        wrap + 100 + (1 << 31),
        wrap + 100 + (3 << 30),
        2 * wrap - 50,
        2 * wrap + 200,
        2 * wrap + 400,
        2 * wrap + 600,
    ];
    e.proc_start(0, 0);
    for (i, &t) in times.iter().enumerate() {
        now.set(t);
        if i % 2 == 0 {
            e.proc_stop(0);
        } else {
            e.proc_start(0, 0);
        }
        if t == 2 * wrap + 200 {
            now.set(t + 100);
            e.go_create(0, 0, 0x100);
        }
        if t == 2 * wrap + 400 {
            now.set(t + 100);
            e.advance(0);
        }
    }
    e.e.stop(0).unwrap();
    let Some(out) = go_accepts("wrap-long-batch", &e.e.sink().traces[0]) else {
        return;
    };
    // Each transition of P0 at the time it was made (not forced a nanosecond past the last).
    for (i, t) in times.iter().enumerate() {
        let change = ["Running->Idle", "Idle->Running"][i % 2];
        let line = format!("Time={t} ProcID=0 {change}");
        assert!(out.contains(&line), "no {line:?} in\n{out}");
    }
}

/// A sink with no room while `stall` ticks of a [`SetClock`] are left, as a lossless RTT sink
/// whose host stopped reading: each offer it refuses lets an eighth of a wrap pass (the encoder
/// reads the clock between offers). It takes `pass` batches at once before the one that waits,
/// and keeps the trace in a `VecSink`.
struct StallingSink {
    kept: VecSink,
    now: Rc<Cell<u64>>,
    stall: Rc<Cell<u64>>,
    pass: Rc<Cell<u32>>,
}

impl Sink for StallingSink {
    fn begin_trace(&mut self, header: &[u8]) {
        self.kept.begin_trace(header);
    }

    fn write_batch(&mut self, generation: u64, header: &[u8], payload: &[u8]) -> Offer {
        let left = self.stall.get();
        match self.pass.get() {
            0 if left > 0 => {
                let step = left.min(1 << 29);
                self.now.set(self.now.get() + step);
                self.stall.set(left - step);
                return Offer::Full;
            }
            0 => {}
            n => self.pass.set(n - 1),
        }
        self.kept.write_batch(generation, header, payload)
    }

    fn end_trace(&mut self) {
        self.kept.end_trace();
    }

    fn untraced(&mut self, changes: u32) {
        self.kept.untraced(changes);
    }
}

/// An encoder writing to a [`StallingSink`] on a [`SetClock`] at 1000, with the clock's time,
/// the stall left and the batches to take before it, to set.
struct Stalling<const MS: usize> {
    e: Rig<SetClock, MS, MS, 1, 128, StallingSink>,
    now: Rc<Cell<u64>>,
    stall: Rc<Cell<u64>>,
    pass: Rc<Cell<u32>>,
}

fn stalling<const MS: usize>() -> Stalling<MS> {
    let now = Rc::new(Cell::new(1_000));
    let stall = Rc::new(Cell::new(0));
    let pass = Rc::new(Cell::new(0));
    let sink = StallingSink {
        kept: VecSink::default(),
        now: now.clone(),
        stall: stall.clone(),
        pass: pass.clone(),
    };
    let e = Rig::with_sink(SetClock(now.clone()), sink, Config::MANUAL);
    Stalling {
        e,
        now,
        stall,
        pass,
    }
}

/// The times of the events of `out` (Go's text of a trace) whose line contains `what`.
fn times_of(out: &str, what: &str) -> Vec<u64> {
    out.lines()
        .filter(|l| l.contains(what))
        .filter_map(|l| l.split_once(" Time=")?.1.split(' ').next()?.parse().ok())
        .collect()
}

/// Where a test's sink has no room for about two wraps.
#[derive(Clone, Copy, Debug)]
enum Stall {
    /// Handing over a full batch.
    BatchFull,
    /// Handing over every batch at a generation's end.
    GenerationEnd,
    /// Handing over the first table (the frequency's) at a generation's end.
    GenerationTables,
    /// Handing over a batch half a wrap old, found so by the next event out of line.
    StaleBatch,
}

/// One task started and stopped 200 times, 1000 ticks apart, with the sink full at `stall` for
/// two wraps and 5000 ticks, then for two wraps less 5000 ticks: Go must give every stop the
/// time it was made, the clock's wraps during the wait counted. A wait the encoder did not see
/// (a sink waiting inside `write_batch`, where nothing reads the clock) would leave every later
/// time 2^32 ticks short, in a trace Go accepts. A few ticks past whole wraps, a reading after
/// the wait is a few ticks past one before it as the inline path sees them (a batch left in the
/// half before the wait would take it); a few ticks short, the wait's last reading is below the
/// reading the event was written for (given that reading in the half after the wait, the event
/// would come after later ones).
fn stops_keep_their_times_across_a_sink_full_at(stall_at: Stall) {
    let wrap = 1u64 << 32;
    for stall_ticks in [2 * wrap + 5_000, 2 * wrap - 5_000] {
        stops_keep_their_times_across_a_wait(stall_at, stall_ticks);
    }
}

fn stops_keep_their_times_across_a_wait(stall_at: Stall, stall_ticks: u64) {
    let wrap = 1u64 << 32;
    let Stalling {
        mut e,
        now,
        stall,
        pass,
    } = stalling::<1>();
    e.start(0);
    e.proc_start(0, 0);
    e.go_create(0, 0, 0x100);
    let mut stops = Vec::new();
    for round in 0..200 {
        if round == 10 {
            stall.set(stall_ticks);
            match stall_at {
                Stall::BatchFull => {}
                Stall::GenerationEnd => e.advance(0),
                Stall::GenerationTables => {
                    pass.set(1);
                    e.advance(0);
                }
                Stall::StaleBatch => now.set(now.get() + wrap * 6 / 10),
            }
        }
        now.set(now.get() + 1_000);
        e.go_start(0, GoSlot::Task(0));
        now.set(now.get() + 1_000);
        e.go_stop(0);
        stops.push(now.get());
    }
    assert_eq!(stall.get(), 0, "{stall_at:?}: no batch was handed over");
    e.e.stop(0).unwrap();
    let name = format!("sink-stall-{stall_at:?}-{stall_ticks}");
    let Some(out) = go_accepts(&name, &e.e.sink().kept.traces[0]) else {
        return;
    };
    // Go's times are nanoseconds, and the rig's clock counts them (1 GHz): compared from the
    // first stop on, they are the clock's readings. A stop whose batch waited takes the time
    // after the wait, which is when it returned.
    let parsed = times_of(&out, "GoID=1 Running->Runnable");
    let from_first = |times: &[u64]| -> Vec<u64> { times.iter().map(|t| t - times[0]).collect() };
    assert_eq!(
        from_first(&parsed),
        from_first(&stops),
        "{stall_at:?}:\n{out}"
    );
}

#[test]
fn a_sink_full_longer_than_a_clock_wrap_for_a_full_batch_keeps_later_times_right() {
    stops_keep_their_times_across_a_sink_full_at(Stall::BatchFull);
}

#[test]
fn a_sink_full_longer_than_a_clock_wrap_at_a_generations_end_keeps_later_times_right() {
    stops_keep_their_times_across_a_sink_full_at(Stall::GenerationEnd);
}

#[test]
fn a_sink_full_longer_than_a_clock_wrap_for_a_generations_tables_keeps_later_times_right() {
    stops_keep_their_times_across_a_sink_full_at(Stall::GenerationTables);
}

#[test]
fn a_sink_full_longer_than_a_clock_wrap_for_a_stale_batch_keeps_later_times_right() {
    stops_keep_their_times_across_a_sink_full_at(Stall::StaleBatch);
}

#[test]
fn a_sink_waiting_almost_a_wrap_leaves_no_context_in_the_half_before() {
    // M1 wrote at 1000, then M0's batch filled and the sink waited until just before the
    // counter's wrap, where no wrap was seen; M1's next event comes just past the wrap, 5000
    // ticks after its own last reading in the low half: the inline path would take it for a
    // time in the half before, unless the wait's reading made M1's batch stale meanwhile.
    let Stalling {
        mut e, now, stall, ..
    } = stalling::<2>();
    e.start(0);
    e.proc_start(1, 1);
    e.proc_start(0, 0);
    e.go_create(0, 0, 0x100);
    let wrap = 1u64 << 32;
    stall.set(wrap - 100_000);
    // M1's event comes right after the event that waited.
    for i in 0.. {
        now.set(now.get() + 1_000);
        if i % 2 == 0 {
            e.go_start(0, GoSlot::Task(0));
        } else {
            e.go_stop(0);
        }
        if stall.get() == 0 {
            break;
        }
    }
    assert!(now.get() < wrap, "the wait ended past the wrap");
    now.set(wrap + 6_000);
    e.proc_stop(1);
    e.e.stop(0).unwrap();
    let Some(out) = go_accepts("sink-stall-short", &e.e.sink().kept.traces[0]) else {
        return;
    };
    assert_eq!(
        times_of(&out, "ProcID=1 Running->Idle"),
        [wrap + 6_000],
        "{out}"
    );
}

#[test]
fn tracing_off_writes_nothing_and_the_trace_started_after_is_accepted() {
    let mut e = encoder();
    e.proc_start(0, 0);
    e.go_create(0, 0, 0x100);
    for _ in 0..10 {
        e.go_start(0, GoSlot::Task(0));
        e.go_stop(0);
    }
    assert_eq!(e.e.stats().events, 0);
    assert!(e.e.sink().traces.is_empty());
    assert_eq!(
        e.e.advance(0, &e.w),
        Err(gotrace_encoder::Error::NotTracing)
    );
    e.start(0);
    assert_eq!(
        e.e.start(0, &e.w),
        Err(gotrace_encoder::Error::AlreadyTracing)
    );
    e.go_start(0, GoSlot::Task(0));
    e.e.stop(0).unwrap();
    go_accepts("off-then-on", &e.e.sink().traces[0]);
}

#[test]
fn sequence_numbers_near_their_16_bit_limit_end_the_generation() {
    let e: Rig<StepClock, 1, 1, 1, 512> = one_task_started_and_stopped(Config::MANUAL, 40_000);
    // No time or byte limit: only the sequence number (past 2^15 at the 32768th start) ends
    // the first generation.
    assert_eq!(e.e.stats().generations, 2);
    go_accepts("long-generation", &e.e.sink().traces[0]);
}

#[test]
fn goroutine_ids_wrap_past_live_goroutines() {
    let mut e: Rig<StepClock, 1, 1, 2, 512> = Rig::new(
        StepClock(0),
        Config {
            generation_ticks: 0,
            generation_bytes: 64 * 1024,
        },
    );
    e.start(0);
    e.proc_start(0, 0);
    // Task 0 (the first ID) waits through the whole trace; task 1 is created 70000 times, so
    // the 16-bit ID counter wraps and must skip the ID task 0 still holds.
    e.go_create(0, 0, 0x100);
    e.go_start(0, GoSlot::Task(0));
    e.go_block(0);
    let first = e.e.go_id(GoSlot::Task(0));
    for _ in 0..70_000 {
        e.go_create(0, 1, 0x200);
        assert_ne!(e.e.go_id(GoSlot::Task(1)), first);
        e.go_start(0, GoSlot::Task(1));
        e.go_destroy(0);
    }
    e.go_unblock(0, GoSlot::Task(0));
    e.go_start(0, GoSlot::Task(0));
    e.go_stop(0);
    e.e.stop(0).unwrap();
    go_accepts("goroutine-ids-wrap", &e.e.sink().traces[0]);
}

#[test]
fn a_full_string_table_ends_the_generation_before_the_annotation() {
    let mut e: Rig<StepClock, 1, 1, 1, 256> = Rig::new(StepClock(0), Config::MANUAL);
    e.start(0);
    e.proc_start(0, 0);
    e.go_create(0, 0, 0x100);
    e.go_start(0, GoSlot::Task(0));
    // A label, then 40 distinct names, two per log: the 32-entry table fills in the middle of
    // a pair (its first name fits, its second does not).
    e.e.annotate(0, Annotation::label("first"), &e.w);
    let names: Vec<&'static str> = (0..40)
        .map(|i| &*Box::leak(format!("name-{i}").into_boxed_str()))
        .collect();
    for pair in names.chunks(2) {
        let log = Annotation::log(0, pair[0], pair[1]);
        e.e.annotate(0, log, &e.w);
    }
    e.e.stop(0).unwrap();
    assert_eq!(e.e.stats().generations, 2);
    if let Some(out) = go_accepts("full-string-table", &e.e.sink().traces[0]) {
        for pair in names.chunks(2) {
            let log = format!(r#"Category="{}" Message="{}""#, pair[0], pair[1]);
            assert!(out.contains(&log), "{log} missing:\n{out}");
        }
    }
}

#[test]
fn a_full_stack_table_ends_the_generation_before_the_creation() {
    let mut e: Rig<StepClock, 1, 1, 1, 256> = Rig::new(StepClock(0), Config::MANUAL);
    e.start(0);
    e.proc_start(0, 0);
    // 40 goroutines with 40 entry functions: the 32-entry stack table fills.
    for i in 0..40 {
        e.go_create(0, 0, 0x1000 + 4 * i);
        e.go_start(0, GoSlot::Task(0));
        e.go_destroy(0);
    }
    e.e.stop(0).unwrap();
    assert_eq!(e.e.stats().generations, 2);
    go_accepts("full-stack-table", &e.e.sink().traces[0]);
}

/// Logs and labels of every length around Go's 1 KiB limit and past it, with the smallest batch
/// buffer and with one large enough for a whole 1 KiB string: each is cut to what Go accepts
/// (and half a batch), and the cut text is what Go reads.
fn long_strings<const BUF: usize>(name: &str, kept: usize) {
    let mut e: Rig<StepClock, 1, 1, 1, BUF> = Rig::new(StepClock(0), Config::MANUAL);
    e.start(0);
    e.proc_start(0, 0);
    e.go_create(0, 0, 0x100);
    e.go_start(0, GoSlot::Task(0));
    let lens = [kept - 1, kept, kept + 1, 1023, 1024, 1025, 5000];
    let texts: Vec<&'static str> = lens
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let c = char::from(b'a' + i as u8);
            &*Box::leak(c.to_string().repeat(n).into_boxed_str())
        })
        .collect();
    for &text in &texts {
        e.e.annotate(0, Annotation::log(0, "long", text), &e.w);
        e.e.annotate(0, Annotation::label(text), &e.w);
    }
    e.e.stop(0).unwrap();
    if let Some(out) = go_accepts(name, &e.e.sink().traces[0]) {
        for text in texts {
            let cut = &text[..text.len().min(kept)];
            let log = format!(r#"Category="long" Message="{cut}""#);
            assert!(
                out.contains(&log),
                "{name}: {} bytes cut to {}",
                text.len(),
                cut.len()
            );
        }
    }
}

#[test]
fn strings_longer_than_go_takes_are_cut_to_its_limit_and_to_half_a_batch() {
    long_strings::<64>("long-strings-64", 32);
    long_strings::<4096>("long-strings-4096", 1024);
}

/// The rig of the calls out of range: 2 contexts, 2 executors, 2 task slots.
type TwoOfEach = Rig<SetClock, 2, 2, 2, 256>;

/// Every event method given a context, executor or task slot the encoder does not have, each
/// between the calls of a valid trace.
fn calls_out_of_range(e: &mut TwoOfEach) {
    // The first index out of range of each.
    let (ms, ps, gs) = (2, 2, 2);
    let (w, e) = (&e.w, &mut e.e);
    e.proc_start(ms, 0, w);
    e.proc_start(0, ps, w);
    e.proc_stop(ms, w);
    for g in [GoSlot::Task(0), GoSlot::Callback(0)] {
        e.go_start(ms, g, w);
        e.go_unblock(ms, g, w);
    }
    for g in [GoSlot::Task(gs), GoSlot::Callback(ms)] {
        e.go_start(0, g, w);
        e.go_unblock(0, g, w);
    }
    e.go_stop(ms, gotrace_encoder::Reason::Yield, w);
    e.go_block(ms, gotrace_encoder::Reason::Wait, w);
    for (m, p, owner) in [(ms, 0, 1), (0, ps, 1), (0, 0, ms)] {
        e.proc_steal(m, p, owner, w);
    }
    for (m, task) in [(ms, 1), (0, gs)] {
        assert!(!e.go_create(m, task, 0x0800_4000, w));
    }
    e.go_destroy(ms, w);
    e.syscall_begin(ms, 0, w);
    e.syscall_begin(0, ps, w);
    e.syscall_end(ms, true, w);
    e.callback_enter(ms, w);
    e.callback_exit(ms, w);
    e.annotate(ms, Annotation::log(0, "never", "written"), w);
    e.end_due(ms, w);
    assert_eq!(
        e.advance(ms, w),
        Err(gotrace_encoder::Error::NoSuchContext(ms))
    );
}

/// A trace with a steal from a blocking operation and an interrupt callback, with
/// [`calls_out_of_range`] made between its events when `misused`.
fn trace_with_calls_out_of_range(misused: bool) -> (Vec<u8>, gotrace_encoder::Stats) {
    let now = Rc::new(Cell::new(1_000));
    let mut e: TwoOfEach = Rig::new(SetClock(now.clone()), Config::MANUAL);
    let step = |e: &mut TwoOfEach| {
        now.set(now.get() + 10);
        if misused {
            calls_out_of_range(e);
        }
    };
    e.start(0);
    e.proc_start(0, 0);
    step(&mut e);
    e.go_create(0, 0, 0x0800_1000);
    step(&mut e);
    e.go_start(0, GoSlot::Task(0));
    step(&mut e);
    e.e.annotate(0, Annotation::log(0, "kept", "written"), &e.w);
    step(&mut e);
    e.syscall_begin(0);
    step(&mut e);
    e.proc_steal(1, 0);
    step(&mut e);
    e.callback_enter(1);
    step(&mut e);
    e.callback_exit(1);
    step(&mut e);
    e.advance(0);
    step(&mut e);
    assert!(!e.syscall_end(0));
    step(&mut e);
    e.proc_start(0, 0);
    step(&mut e);
    e.go_start(0, GoSlot::Task(0));
    step(&mut e);
    e.go_block(0);
    step(&mut e);
    e.go_unblock(0, GoSlot::Task(0));
    step(&mut e);
    e.go_start(0, GoSlot::Task(0));
    step(&mut e);
    e.go_destroy(0);
    e.e.stop(0).unwrap();
    let stats = e.e.stats();
    (e.e.sink().traces.concat(), stats)
}

#[test]
fn calls_naming_no_context_executor_or_task_write_nothing_and_change_nothing() {
    let (clean, clean_stats) = trace_with_calls_out_of_range(false);
    let (misused, misused_stats) = trace_with_calls_out_of_range(true);
    assert_eq!(misused_stats, clean_stats);
    assert!(misused == clean, "the calls out of range changed the trace");
    go_accepts("calls-out-of-range", &misused);
}

// ---- Behaviour that mutation testing found unchecked (s43 helper-mut) ----

#[test]
fn is_tracing_is_true_from_start_to_stop_only() {
    let mut e: Rig<StepClock, 1, 1, 1, 64> = Rig::new(StepClock(0), Config::MANUAL);
    assert!(!e.e.is_tracing(), "before start");
    e.start(0);
    assert!(e.e.is_tracing(), "after start");
    e.advance(0);
    assert!(e.e.is_tracing(), "after a generation boundary");
    e.e.stop(0).unwrap();
    assert!(!e.e.is_tracing(), "after stop");
}

#[test]
fn stats_count_the_events_and_bytes_not_yet_handed_over() {
    let mut e: Rig<StepClock, 1, 1, 1, 512> = Rig::new(StepClock(0), Config::MANUAL);
    e.start(0);
    e.proc_start(0, 0);
    e.go_create(0, 0, 0x100);
    e.go_start(0, GoSlot::Task(0));
    e.go_stop(0);
    // Nothing handed over yet but the header: the batch is far from full.
    assert_eq!(e.e.sink().traces[0].len(), 16, "a batch was handed over");
    let pending = e.e.stats();
    // One status (idle P0), then ProcStart, GoCreate, GoStart, GoStop.
    assert_eq!(pending.events, 5, "{pending:?}");
    assert_eq!(pending.status_events, 1, "{pending:?}");
    assert!(pending.event_bytes >= 5, "{pending:?}");
    e.e.stop(0).unwrap();
    let flushed = e.e.stats();
    // Handing the batch over moves the counts from pending to written, and changes neither.
    assert_eq!(
        (flushed.events, flushed.event_bytes),
        (pending.events, pending.event_bytes)
    );
}

#[test]
fn debug_shows_the_tracing_state_generation_and_stats() {
    // The encoder's `Debug` shows its clock too: `StepClock` is `Debug`.
    let mut e: Rig<StepClock, 1, 1, 1, 64> = Rig::new(StepClock(0), Config::MANUAL);
    e.start(0);
    e.advance(0);
    let text = format!("{:?}", e.e);
    assert!(text.starts_with("Encoder {"), "{text}");
    assert!(text.contains("tracing: true"), "{text}");
    assert!(text.contains("generation: 2"), "{text}");
    assert!(text.contains("generations: 2"), "{text}");
    assert!(text.contains("traces: ["), "the sink: {text}");
}

#[test]
fn a_callbacks_goroutine_gets_an_id_of_its_own() {
    let mut e: Rig<StepClock, 2, 1, 2, 128> = Rig::new(StepClock(0), Config::MANUAL);
    e.start(0);
    e.proc_start(0, 0);
    e.go_create(0, 0, 0x100);
    e.go_create(0, 1, 0x200);
    e.callback_enter(1);
    let callback = e.e.go_id(GoSlot::Callback(1));
    assert_ne!(callback, 0, "no ID");
    assert_ne!(callback, e.e.go_id(GoSlot::Task(0)));
    assert_ne!(callback, e.e.go_id(GoSlot::Task(1)));
    e.callback_exit(1);
    e.callback_enter(1);
    assert_eq!(
        e.e.go_id(GoSlot::Callback(1)),
        callback,
        "the same ID every time"
    );
    e.callback_exit(1);
    e.e.stop(0).unwrap();
    go_accepts("callback-id", &e.e.sink().traces[0]);
}

#[test]
fn annotations_with_the_longest_ids_fill_small_batches_whole() {
    // UserTaskBegin with two 10-byte IDs: 29 bytes of event, in 64-byte batches. Each must go
    // whole into a batch with room for it, never cut at the end of one.
    let mut e: Rig<StepClock, 1, 1, 1, 64> = Rig::new(StepClock(0), Config::MANUAL);
    e.start(0);
    e.proc_start(0, 0);
    e.go_create(0, 0, 0x100);
    e.go_start(0, GoSlot::Task(0));
    // Parent u64::MAX: Go's "no task".
    let ids: Vec<u64> = (1..=20).map(|i| u64::MAX - i).collect();
    for (i, &id) in ids.iter().enumerate() {
        e.e.annotate(0, Annotation::task_begin(id, u64::MAX, "t"), &e.w);
        // Something short in between, so that the batch's free room takes every size.
        for _ in 0..i % 4 {
            e.go_stop(0);
            e.go_start(0, GoSlot::Task(0));
        }
    }
    e.e.stop(0).unwrap();
    if let Some(out) = go_accepts("long-ids-small-batches", &e.e.sink().traces[0]) {
        for id in ids {
            let begin = format!(" ID={id} Parent={} Type=\"t\"", u64::MAX);
            assert!(out.contains(&begin), "task {id}:\n{out}");
        }
    }
}

/// A P passed between thread mode (M0) and an interrupt level (M1) by a blocking operation and
/// a steal, 100 times, with no generation limit.
fn steals() -> Rig<SetClock, 2, 1, 1, 512> {
    let now = Rc::new(Cell::new(1_000));
    let mut e: Rig<SetClock, 2, 1, 1, 512> = Rig::new(SetClock(now.clone()), Config::MANUAL);
    e.start(0);
    e.proc_start(0, 0);
    e.go_create(0, 0, 0x100);
    e.go_start(0, GoSlot::Task(0));
    for _ in 0..100 {
        now.set(now.get() + 100);
        e.syscall_begin(0);
        now.set(now.get() + 100);
        e.proc_steal(1, 0);
        now.set(now.get() + 100);
        assert!(!e.syscall_end(0));
        now.set(now.get() + 100);
        e.proc_start(0, 0);
        now.set(now.get() + 100);
        e.go_start(0, GoSlot::Task(0));
    }
    e
}

#[test]
fn steals_and_blocking_operations_end_no_generation_by_themselves() {
    let mut e = steals();
    assert_eq!(e.e.stats().generations, 1, "{:?}", e.e.stats());
    e.e.stop(0).unwrap();
    go_accepts("steals-no-boundary", &e.e.sink().traces[0]);
}

#[test]
fn a_steal_or_blocking_operation_past_the_period_ends_the_generation() {
    // Neither ProcSteal nor GoSyscallBegin has an inline path: each checks the period, and
    // ends the generation once it is past, not before.
    let now = Rc::new(Cell::new(1_000));
    let config = Config {
        generation_ticks: 150,
        generation_bytes: 0,
    };
    let mut e: Rig<SetClock, 2, 1, 1, 512> = Rig::new(SetClock(now.clone()), config);
    e.start(0);
    e.proc_start(0, 0);
    e.go_create(0, 0, 0x100);
    e.go_start(0, GoSlot::Task(0));
    // The first generation began at 1000: it ends at the blocking operation at 1200.
    now.set(1_200);
    e.syscall_begin(0);
    assert_eq!(e.e.generation(), 2, "GoSyscallBegin past the period");
    // The second began at 1200: its period ends at 1350.
    now.set(1_300);
    e.proc_steal(1, 0);
    assert_eq!(e.e.generation(), 2, "ProcSteal within the period");
    now.set(1_310);
    assert!(!e.syscall_end(0));
    now.set(1_320);
    e.proc_start(0, 0);
    now.set(1_330);
    e.go_start(0, GoSlot::Task(0));
    now.set(1_340);
    e.syscall_begin(0);
    assert_eq!(e.e.generation(), 2, "GoSyscallBegin within the period");
    now.set(1_400);
    e.proc_steal(1, 0);
    assert_eq!(e.e.generation(), 3, "ProcSteal past the period");
    e.e.stop(0).unwrap();
    go_accepts("steal-period", &e.e.sink().traces[0]);
}

#[test]
fn events_with_long_deltas_and_long_sequence_numbers_keep_their_times() {
    // A task started 17000 times in one generation, 20000 ticks (2^14 to 2^15) after each
    // stop: from its 16384th start, both the delta and the sequence number take three varint
    // bytes, which the packed path must leave to the general one.
    let now = Rc::new(Cell::new(1_000));
    let mut e: Rig<SetClock, 1, 1, 1, 512> = Rig::new(SetClock(now.clone()), Config::MANUAL);
    e.start(0);
    e.proc_start(0, 0);
    e.go_create(0, 0, 0x100);
    let mut starts = Vec::new();
    for _ in 0..17_000 {
        now.set(now.get() + 20_000);
        e.go_start(0, GoSlot::Task(0));
        starts.push(now.get());
        now.set(now.get() + 100);
        e.go_stop(0);
    }
    e.e.stop(0).unwrap();
    assert_eq!(e.e.stats().generations, 1);
    let Some(out) = go_accepts("long-deltas-and-seqs", &e.e.sink().traces[0]) else {
        return;
    };
    let parsed = times_of(&out, "GoID=1 Runnable->Running");
    let from_first = |t: &[u64]| -> Vec<u64> { t.iter().map(|x| x - t[0]).collect() };
    assert_eq!(parsed.len(), starts.len());
    let (parsed, starts) = (from_first(&parsed), from_first(&starts));
    if let Some(i) = (0..starts.len()).find(|&i| parsed[i] != starts[i]) {
        panic!("start {i}: at {} not {}", parsed[i], starts[i]);
    }
}

#[test]
fn end_due_ends_the_generation_go_create_found_due() {
    let mut e: Rig<StepClock, 2, 1, 1, 64> = Rig::new(StepClock(0), Config::MANUAL);
    e.start(0);
    e.proc_start(0, 0);
    e.e.end_due(1, &e.w);
    assert_eq!(e.e.generation(), 2, "from a context in range");
    e.e.end_due(2, &e.w);
    e.e.end_due(3, &e.w);
    assert_eq!(e.e.generation(), 2, "from contexts out of range");
    e.e.stop(0).unwrap();
    go_accepts("end-due", &e.e.sink().traces[0]);
}

#[test]
fn goroutines_live_before_tracing_starts_are_named_when_it_starts() {
    let mut e: Rig<StepClock, 1, 1, 3, 128> = Rig::new(StepClock(0), Config::MANUAL);
    // Before tracing: task 0 running on P0, task 1 runnable, task 2 waiting.
    e.proc_start(0, 0);
    for t in 0..3 {
        e.go_create(0, t, 0x100 * (t as u64 + 1));
    }
    e.go_start(0, GoSlot::Task(0));
    e.w.tasks[2] = gotrace_encoder::GoStatus::Waiting;
    assert_eq!(e.e.go_id(GoSlot::Task(0)), 0, "no ID while not tracing");
    e.start(0);
    let ids: Vec<u64> = (0..3).map(|t| e.e.go_id(GoSlot::Task(t))).collect();
    assert!(ids.iter().all(|&id| id != 0), "{ids:?}");
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "{ids:?}"
    );
    e.advance(0);
    let again: Vec<u64> = (0..3).map(|t| e.e.go_id(GoSlot::Task(t))).collect();
    assert_eq!(again, ids, "kept at the next generation");
    e.go_stop(0);
    e.e.stop(0).unwrap();
    if let Some(out) = go_accepts("named-at-start", &e.e.sink().traces[0]) {
        for id in ids {
            assert!(out.contains(&format!("GoID={id} ")), "G {id}:\n{out}");
        }
    }
}

#[test]
fn a_byte_limit_ends_generations_only_once_their_batches_reach_it() {
    let limit = 1_000;
    let config = Config {
        generation_ticks: 0,
        generation_bytes: limit,
    };
    let mut e: Rig<StepClock, 1, 1, 1, 64> = Rig::new(StepClock(0), config);
    e.start(0);
    e.proc_start(0, 0);
    e.go_create(0, 0, 0x100);
    for _ in 0..1_000 {
        e.go_start(0, GoSlot::Task(0));
        e.go_stop(0);
    }
    e.e.stop(0).unwrap();
    let stats = e.e.stats();
    // Every generation but the last handed over at least `limit` bytes of batches.
    let most = stats.bytes_written / limit + 1;
    assert!(
        (2..=most).contains(&stats.generations),
        "{} generations, at most {most}: {stats:?}",
        stats.generations
    );
    go_accepts("byte-limit", &e.e.sink().traces[0]);
}

/// The batches of a trace as (m, first payload byte), from its raw bytes.
fn batches_of(trace: &[u8]) -> Vec<(u64, u8)> {
    use gotrace_wire::varint::decode;
    let mut at = 16;
    let mut out = Vec::new();
    while at < trace.len() {
        assert_eq!(trace[at], gotrace_wire::EventType::EVENT_BATCH.0, "at {at}");
        at += 1;
        let mut fields = [0u64; 4];
        for f in &mut fields {
            let (v, n) = decode(&trace[at..]).unwrap();
            *f = v;
            at += n;
        }
        let size = fields[3] as usize;
        out.push((fields[1], trace[at]));
        at += size;
    }
    out
}

#[test]
fn a_generations_tables_take_one_batch_each_when_they_fit_one() {
    let mut e: Rig<StepClock, 1, 1, 2, 4096> = Rig::new(StepClock(0), Config::MANUAL);
    e.start(0);
    e.proc_start(0, 0);
    e.go_create(0, 0, 0x100);
    e.go_create(0, 1, 0x200);
    e.go_start(0, GoSlot::Task(0));
    e.e.annotate(0, Annotation::log(0, "key", "value"), &e.w);
    e.go_block(0);
    e.e.stop(0).unwrap();
    let trace = &e.e.sink().traces[0];
    let tables: Vec<u8> = batches_of(trace)
        .into_iter()
        .filter(|&(m, _)| m == gotrace_wire::NO_THREAD)
        .map(|(_, kind)| kind)
        .collect();
    use gotrace_wire::EventType as T;
    assert_eq!(tables, [T::FREQUENCY.0, T::STACKS.0, T::STRINGS.0]);
    go_accepts("tables-one-batch-each", trace);
}

#[test]
fn stops_and_blocks_carry_their_reasons_text() {
    use gotrace_encoder::Reason;
    assert_eq!(
        (Reason::Yield.text(), Reason::Wait.text()),
        ("yield", "wait")
    );
    let mut e: Rig<StepClock, 1, 1, 1, 128> = Rig::new(StepClock(0), Config::MANUAL);
    e.start(0);
    e.proc_start(0, 0);
    e.go_create(0, 0, 0x100);
    e.go_start(0, GoSlot::Task(0));
    e.go_stop(0);
    e.go_start(0, GoSlot::Task(0));
    e.go_block(0);
    e.e.stop(0).unwrap();
    if let Some(out) = go_accepts("reasons", &e.e.sink().traces[0]) {
        assert!(out.contains(r#"Running->Runnable Reason="yield""#), "{out}");
        assert!(out.contains(r#"Running->Waiting Reason="wait""#), "{out}");
    }
}

#[test]
fn try_with_runs_outside_with_and_refuses_inside_it() {
    use gotrace_encoder::Shared;
    let shared = Shared::new(1u32);
    let outside = shared.try_with(|v| {
        *v += 1;
        *v
    });
    assert_eq!(outside, Some(2));
    let inside = shared.with(|v| {
        *v += 1;
        shared.try_with(|w| *w)
    });
    assert_eq!(inside, None, "ran while borrowed");
    assert_eq!(shared.with(|v| *v), 3);
    assert_eq!(
        format!("{shared:?}"),
        "Shared { .. }",
        "says nothing of the value"
    );
}
