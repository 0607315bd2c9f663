//! The seeded random driver: one seed, one reproducible run of the simulated firmware.
//!
//! Tasks yield, wait, perform blocking operations (kept or detached), spawn and wake each other
//! and write annotations; at every preemption point an interrupt of a higher level may fire and
//! wake tasks, run an executor (stealing it from a blocked task), run a callback (taking an
//! executor, leaving it held), start or stop tracing, or end the generation. Every trace written
//! must be one Go accepts; a scheduler error other than the expected refusals is a bug and panics
//! with the seed.

use std::cell::RefCell;
use std::rc::Rc;

use gotrace_encoder::{Config, Stats};

use super::journal::Entry;
use super::{current, Sim, SimScheduler, SIM_CONTEXTS, SIM_EXECUTORS, SIM_TASKS};
use crate::context::{Annotate, CallbackCx, TaskCx};
use crate::error::Error;
use crate::platform::Platform;
use crate::task::{Step, TaskId};
use fastrand::Rng;

/// What a run does.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Iterations of the thread-mode main loop.
    pub steps: usize,
    /// Tasks and callbacks write user annotations (tasks, regions, logs, labels).
    pub annotations: bool,
    /// Chance, in percent, that an interrupt fires at a preemption point.
    pub interrupt_percent: u64,
    /// Interrupts may stop, restart and advance tracing.
    pub trace_control: bool,
    /// Generation limits; `None` picks small random ones from the seed.
    pub generations: Option<Config>,
    /// Clock cycles between two reads.
    pub clock_step: u64,
    /// Timestamps in units of `2^time_shift` cycles.
    pub time_shift: u32,
    /// Odd seeds start the cycle counter a little before its 32-bit reading wraps (how long
    /// before depends on the seed), so that their runs cross the wrap; even seeds and runs without
    /// it start at 1000 cycles. Only with `time_shift` 0: a `Coarse` clock extends the counter
    /// from 0 itself, so its own reading would not come near its wrap.
    pub wrap_clock: bool,
}

impl Options {
    /// The randomized test's mix: everything on, interrupts frequent.
    pub const STRESS: Options = Options {
        steps: 120,
        annotations: true,
        interrupt_percent: 15,
        trace_control: true,
        generations: None,
        clock_step: super::SIM_CLOCK_STEP,
        time_shift: 0,
        wrap_clock: true,
    };

    /// [`Options::STRESS`] with timestamps in units of `2^shift` cycles (6: 1 µs at 64 MHz).
    pub const fn coarse(shift: u32) -> Options {
        Options::STRESS.with_time_shift(shift)
    }

    /// These options with timestamps in units of `2^shift` cycles. A coarse clock does not cross
    /// its wrap ([`Options::wrap_clock`]).
    pub const fn with_time_shift(self, shift: u32) -> Options {
        Options {
            time_shift: shift,
            wrap_clock: self.wrap_clock && shift == 0,
            ..self
        }
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// One trace per tracing session, each complete.
    pub traces: Vec<Vec<u8>>,
    /// The encoder's statistics at the end of the run.
    pub stats: Stats,
    /// What the scheduler did, for comparing with what the traces say.
    pub journal: Vec<Entry>,
}

struct Driver {
    seed: u64,
    rng: RefCell<Rng>,
    opts: Options,
}

thread_local! {
    static DRIVER: RefCell<Option<Rc<Driver>>> = const { RefCell::new(None) };
}

fn driver() -> Rc<Driver> {
    DRIVER
        .with(|d| d.borrow().clone())
        .expect("no simulation driver on this thread")
}

impl Driver {
    /// Uniform in `0..n` (n > 0).
    fn below(&self, n: usize) -> usize {
        self.rng.borrow_mut().usize(..n)
    }

    /// True with probability `percent` / 100.
    fn chance(&self, percent: u64) -> bool {
        self.rng.borrow_mut().u64(..100) < percent
    }

    /// Accepts the refusals a random driver provokes on purpose; anything else is a bug.
    fn check<T>(&self, what: &str, r: Result<T, Error>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(
                Error::TableFull
                | Error::NoSuchTask(_)
                | Error::ExecutorBusy(_)
                | Error::NoRunningTask(_),
            ) => None,
            Err(e) => panic!("seed {}: {what}: {e}", self.seed),
        }
    }
}

/// Where `seed`'s cycle counter starts (see [`Options::wrap_clock`]): for odd seeds, 0 to 96
/// times 4 reads before the wrap (a run reads the clock a few thousand times), chosen without
/// the seed's random numbers, which so make the same choices either way.
fn clock_start(seed: u64, opts: &Options) -> u64 {
    assert!(
        !opts.wrap_clock || opts.time_shift == 0,
        "Options::wrap_clock needs time_shift 0"
    );
    if opts.wrap_clock && seed % 2 == 1 {
        (1u64 << 32) - (seed / 2 % 97) * 4 * opts.clock_step
    } else {
        1000
    }
}

/// Runs the simulation for `seed`.
pub fn run(seed: u64, opts: &Options) -> Outcome {
    let mut rng = Rng::with_seed(seed);
    let random = Config {
        generation_ticks: if rng.bool() {
            0
        } else {
            rng.u32(20_000..220_000)
        },
        generation_bytes: rng.u32(200..4200),
    };
    let trace_from_start = rng.u64(..100) < 85 || !opts.trace_control;
    let sim = Sim::with_clock(
        opts.generations.unwrap_or(random),
        clock_start(seed, opts),
        opts.clock_step,
        opts.time_shift,
    );
    let d = Rc::new(Driver {
        seed,
        rng: RefCell::new(rng),
        opts: *opts,
    });
    DRIVER.with(|slot| *slot.borrow_mut() = Some(d.clone()));
    let sched = sim.scheduler().clone();
    sched.platform().set_hook(Some(Rc::new(maybe_interrupt)));

    for _ in 0..2 + d.below(5) {
        let executor = d.below(SIM_EXECUTORS);
        d.check("spawn", sched.spawn(executor, sim_task, 0));
    }
    if trace_from_start {
        d.check("start tracing", sched.start_tracing());
    }
    for _ in 0..opts.steps {
        let executor = d.below(SIM_EXECUTORS);
        let ran = d.check("run", sched.run_executor(executor)).unwrap_or(0);
        if ran == 0 {
            // Thread mode would sleep: some interrupt wakes the system up.
            sched.platform().interrupt(1, || isr(&sched, &d));
        }
    }
    sched.platform().set_hook(None);
    if sched.is_tracing() {
        d.check("stop tracing", sched.stop_tracing());
    }
    DRIVER.with(|slot| *slot.borrow_mut() = None);
    let stats = sched.with_encoder(|e| e.stats());
    Outcome {
        traces: sim.traces(),
        stats,
        journal: sched.journal(),
    }
}

/// The preemption hook: maybe fire an interrupt of a level above the current context.
fn maybe_interrupt() {
    let d = driver();
    let sched = current();
    let cur = sched.platform().current_context();
    if cur + 1 >= SIM_CONTEXTS || !d.chance(d.opts.interrupt_percent) {
        return;
    }
    let level = cur + 1 + d.below(SIM_CONTEXTS - 1 - cur);
    sched.platform().interrupt(level, || isr(&sched, &d));
}

fn random_task(d: &Driver) -> TaskId {
    TaskId(d.below(SIM_TASKS))
}

/// One simulated interrupt handler.
fn isr(sched: &SimScheduler, d: &Driver) {
    match d.below(100) {
        0..30 => {
            d.check("wake from interrupt", sched.wake(random_task(d)));
        }
        30..55 => {
            d.check(
                "interrupt-level executor",
                sched.run_executor(d.below(SIM_EXECUTORS)),
            );
        }
        55..80 => {
            d.check("callback", sched.callback(|cb| callback_body(cb, d)));
        }
        80..83 if d.opts.trace_control => {
            if sched.is_tracing() {
                d.check("stop tracing", sched.stop_tracing());
            } else {
                d.check("start tracing", sched.start_tracing());
            }
        }
        83..93 if d.opts.trace_control => {
            if sched.is_tracing() {
                d.check("advance generation", sched.advance_generation());
            }
        }
        _ => {
            d.check(
                "spawn from interrupt",
                sched.spawn(d.below(SIM_EXECUTORS), sim_task, 0),
            );
        }
    }
}

fn callback_body(cb: &mut CallbackCx<'_>, d: &Driver) {
    cb.preemption_point();
    if d.chance(60)
        && d.check("take executor", cb.take_executor(d.below(SIM_EXECUTORS)))
            .is_some()
    {
        cb.preemption_point();
        if d.opts.annotations {
            d.check("callback log", cb.log(0, "irq", "callback"));
        }
        if d.chance(20) {
            d.check(
                "spawn from callback",
                cb.spawn(d.below(SIM_EXECUTORS), sim_task, 0),
            );
        }
        if d.chance(50) {
            cb.keep_executor_on_exit();
        }
    }
    if d.chance(50) {
        d.check("wake from callback", cb.wake(random_task(d)));
    }
    cb.preemption_point();
}

/// A blocking operation's body: time passes, interrupts may land.
fn blocking_body() {
    let d = driver();
    let sched = current();
    for _ in 0..1 + d.below(3) {
        sched.platform().preemption_point();
    }
}

fn annotate(cx: &mut TaskCx<'_>, d: &Driver) {
    match d.below(4) {
        0 => {
            // A refusal (none: a task runs here) leaves the rest to be refused alike.
            let id = d
                .check("task begin", cx.task_begin(0, "transfer"))
                .unwrap_or(0);
            let fill = cx.region(id, "fill", |cx| {
                cx.preemption_point();
                d.check("log", cx.log(id, "bytes", "512"));
            });
            d.check("region", fill);
            d.check("task end", cx.task_end(id));
        }
        1 => {
            let compute = cx.region(0, "compute", |cx| cx.preemption_point());
            d.check("region", compute);
        }
        2 => {
            d.check("log", cx.log(0, "sensor", "42"));
        }
        _ => {
            d.check("label", cx.label("worker"));
        }
    }
}

/// The body of every simulated task: a random step each time it runs.
fn sim_task(cx: &mut TaskCx<'_>) -> Step {
    let d = driver();
    cx.preemption_point();
    if d.opts.annotations && d.chance(25) {
        annotate(cx, &d);
    }
    match d.below(100) {
        0..35 => Step::Yield,
        35..55 => Step::Wait,
        55..70 => {
            d.check("blocking", cx.blocking(blocking_body));
            Step::Yield
        }
        70..78 => {
            d.check("detached blocking", cx.blocking_detached(blocking_body));
            Step::Yield
        }
        78..84 => {
            d.check(
                "spawn from task",
                cx.spawn(d.below(SIM_EXECUTORS), sim_task, 0),
            );
            Step::Yield
        }
        84..93 => {
            d.check("wake from task", cx.wake(random_task(&d)));
            Step::Yield
        }
        _ => Step::Done,
    }
}
