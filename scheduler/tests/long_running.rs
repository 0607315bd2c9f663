//! A device that runs for a long time: time that passes with no traced event, longer than the
//! 32-bit clock takes to wrap (67 s at the simulator's 64 MHz). The encoder sees a wrap only by
//! reading the clock, so a sleep or a blocking operation that long is timed short by 2^32 ticks
//! unless something reads the clock meanwhile: a valid trace, silently wrong. A timer that ends
//! generations (`advance_generation`) at least once per half wrap period is what the READMEs
//! require (a context silent for a wrap may otherwise write its next event inline, unextended);
//! these tests fast-forward the simulated clock (`sim::pass_time`) to show both.

mod common;

use std::cell::Cell;

use common::{event_times, first_rejection, go_judge, seed_file, times_as_written, trace_dir};
use gotrace_go_oracle::require_go;
use gotrace_scheduler::sim::driver::{self, Options};
use gotrace_scheduler::sim::{
    current, cycles, pass_time, Sim, SimScheduler, SIM_CLOCK_STEP, SIM_FREQUENCY,
};
use gotrace_scheduler::{Config, Step, TaskCx};

/// One wrap of the 32-bit clock, in ticks.
const WRAP: u64 = 1 << 32;
/// How long the device sleeps or blocks: 100 s, one and a half wraps at 64 MHz.
const LONG: u64 = 100 * SIM_FREQUENCY;
/// A timer period just under half a wrap (30 s; half a wrap is 33.5 s at 64 MHz), as the READMEs
/// require.
const TIMER_PERIOD: u64 = 30 * SIM_FREQUENCY;

thread_local! {
    /// The timer period the blocking operation lets its time pass by (`None`: no timer).
    static TIMER: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Lets `LONG` cycles pass, the timer (interrupt level 1) ending a generation every `timer`
/// cycles meanwhile if there is one.
fn let_long_pass(timer: Option<u64>) {
    let mut left = LONG;
    while let Some(period) = timer.filter(|&p| p < left) {
        pass_time(period);
        left -= period;
        let s = current();
        s.platform()
            .interrupt(1, || s.advance_generation())
            .expect("the timer ends a generation");
    }
    pass_time(left);
}

fn waits_once(_: &mut TaskCx<'_>) -> Step {
    if WOKEN.get() {
        Step::Done
    } else {
        Step::Wait
    }
}

thread_local! {
    static WOKEN: Cell<bool> = const { Cell::new(false) };
}

fn blocks_long(cx: &mut TaskCx<'_>) -> Step {
    cx.blocking(|| let_long_pass(TIMER.get())).unwrap();
    Step::Done
}

/// Traces `scenario` from thread mode, timed in units of `2^shift` cycles (`Coarse`), and has
/// Go judge the trace: the span of its events as written, and the time that really passed from
/// tracing's start to its end, both in those units.
fn traced(name: &str, shift: u32, scenario: impl FnOnce(&SimScheduler)) -> (u64, u64) {
    let sim = Sim::with_clock(Config::MANUAL, 1000, SIM_CLOCK_STEP, shift);
    let began = cycles() >> shift;
    sim.scheduler().start_tracing().unwrap();
    scenario(sim.scheduler());
    sim.scheduler().stop_tracing().unwrap();
    let traces = sim.traces();
    assert_eq!(traces.len(), 1);
    go_judge(name, &traces);
    let (first, last) = times_as_written(&traces[0]).unwrap();
    (last - first, (cycles() >> shift) - began)
}

/// Thread mode runs a task that waits, sleeps `LONG` (nothing to run, `wfi`), then an interrupt
/// wakes the task, which finishes.
fn sleep_long(name: &str, shift: u32, timer: Option<u64>) -> (u64, u64) {
    WOKEN.set(false);
    traced(name, shift, |s| {
        let sleeper = s.spawn(0, waits_once, 0).unwrap();
        assert_eq!(s.run_executor(0).unwrap(), 1);
        let_long_pass(timer);
        WOKEN.set(true);
        s.platform().interrupt(1, || s.wake(sleeper)).unwrap();
        assert_eq!(s.run_executor(0).unwrap(), 1);
    })
}

/// A task blocks for `LONG` (a flash erase, a transfer that waits for its peer).
fn block_long(name: &str, timer: Option<u64>) -> (u64, u64) {
    TIMER.set(timer);
    traced(name, 0, |s| {
        s.spawn(0, blocks_long, 0).unwrap();
        assert_eq!(s.run_executor(0).unwrap(), 1);
    })
}

/// Asserts that a trace's span, as `(span, real)`, is `short` of the time that really passed,
/// within the few thousand cycles the simulator's reads add around it.
fn assert_short_by((span, real): (u64, u64), short: u64) {
    let missing = real.checked_sub(span + short);
    assert!(
        missing.is_some_and(|m| m < 10_000),
        "span {span}, real {real}: not short by {short}"
    );
}

#[test]
fn a_sleep_or_blocking_operation_past_a_clock_wrap_with_nothing_reading_the_clock_is_a_wrap_short()
{
    // What a firmware without a timer gets: Go accepts the traces, and nothing says they are
    // wrong.
    assert_short_by(sleep_long("sleep_unseen_wrap", 0, None), WRAP);
    assert_short_by(block_long("block_unseen_wrap", None), WRAP);
}

#[test]
fn a_sleep_or_blocking_operation_past_a_clock_wrap_is_timed_whole_when_a_timer_ends_generations() {
    assert_short_by(sleep_long("sleep_timer", 0, Some(TIMER_PERIOD)), 0);
    assert_short_by(block_long("block_timer", Some(TIMER_PERIOD)), 0);
}

#[test]
fn with_a_coarse_clock_the_wrap_to_read_within_is_the_counters_not_the_coarse_units() {
    // 1 µs units (shift 6 at 64 MHz) wrap after 71 minutes, the counter under them after 67 s:
    // a timer every 70 s misses the counter's wrap, every 60 s does not.
    let shift = 6;
    let late = Some(70 * SIM_FREQUENCY);
    assert_short_by(sleep_long("coarse_late_timer", shift, late), WRAP >> shift);
    let in_time = Some(TIMER_PERIOD);
    assert_short_by(sleep_long("coarse_timer", shift, in_time), 0);
}

#[test]
fn readings_just_inside_each_wrap_are_extended_right_on_every_context() {
    // The random simulator, its clock read a long time apart: every reading a third of a wrap,
    // 0.45 of one or just under half of one after the one before, as if a timer read it just
    // often enough. Each reading is the start plus a whole number of steps, so a wrap counted
    // wrongly (2^32 ticks, not a multiple of the step) shows in every later time. Every context,
    // executor steals and generation ends included. Not steps of more than half a wrap: the
    // simulator's clock moves a step at every reading, and a steal reads it twice in a row
    // (waiting for it to move past its victim's last reading), the first time without extending
    // it, so two steps would be one gap: with steps of 0.9 of a wrap, seed 0 misses a wrap there,
    // which a device, whose two readings are nanoseconds apart, does not.
    let Some(go) = require_go("wrap_steps") else {
        return;
    };
    let dir = trace_dir("wrap_steps");
    let mut files = Vec::new();
    for (k, step) in [WRAP / 3, WRAP / 20 * 9, WRAP / 2 - 1]
        .into_iter()
        .enumerate()
    {
        let opts = Options {
            clock_step: step,
            wrap_clock: false,
            ..Options::STRESS
        };
        for seed in 0..40 {
            for (i, trace) in driver::run(seed, &opts).traces.iter().enumerate() {
                let times = event_times(trace).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
                let off = times.iter().find(|&&t| (t - 1000) % step != 0);
                assert!(off.is_none(), "seed {seed}, step {step}: a time of {off:?}");
                let path = seed_file(&dir, seed, 100 * k + i);
                std::fs::write(&path, trace).unwrap();
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 60, "only {} traces", files.len());
    if let Some((path, error)) = first_rejection(&go, &files, 2) {
        panic!("{}: {error}", path.display());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
