//! Seeded random runs of a real Embassy executor pair: spawns from start-up code, from tasks, from
//! an interrupt (context 1) and from an interrupt executor's tasks (context 2, polled inside
//! thread mode's tasks as an interrupt preempts them); wakes from every context, `wake_task_no_pend`,
//! generation boundaries from every context. Each seed's trace must be one Go's parser accepts
//! and ours reads alike, every hook applied, and its goroutines must be the tasks the run made:
//! one `GoCreate` per spawn, one `GoStart` per poll.

#[path = "../../scheduler/tests/common/mod.rs"]
mod common;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use common::{go_judge, Ticks};
use embassy_executor::raw::{self, Executor};
use gotrace_embassy::{embassy_trace_hooks, Refusals, Tracer};
use gotrace_scheduler::encoder::{Shared, VecSink};
use gotrace_scheduler::Config;

/// More task slots than the workers' pool holds: no spawn is refused for want of one.
static TRACER: Shared<Tracer<Ticks, VecSink, 48, 2, 3, 256>> =
    Shared::new(Tracer::new(Ticks(0), VecSink::new(), Config::MANUAL));

const SEEDS: u64 = 40;
const STEPS: u32 = 2000;

thread_local! {
    static CONTEXT: Cell<usize> = const { Cell::new(0) };
    static RNG: Cell<u64> = const { Cell::new(1) };
    static PARKED: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
    /// Executor A (thread mode's) and B (the interrupt executor, context 2).
    static EXECUTORS: Cell<Option<(&'static Executor, &'static Executor)>> = const { Cell::new(None) };
    /// Spawns the executors took and polls of the workers' bodies, while tracing was on.
    static SPAWNS: Cell<usize> = const { Cell::new(0) };
    static POLLS: Cell<usize> = const { Cell::new(0) };
}

embassy_trace_hooks!(TRACER, CONTEXT.with(Cell::get));

#[unsafe(export_name = "__pender")]
fn pender(_context: *mut ()) {}

fn below(n: u64) -> u64 {
    RNG.with(|r| {
        // xorshift64
        let mut x = r.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r.set(x);
        x % n
    })
}

fn on_context<R>(m: usize, f: impl FnOnce() -> R) -> R {
    let outer = CONTEXT.with(|c| c.replace(m));
    let r = f();
    CONTEXT.with(|c| c.set(outer));
    r
}

fn executors() -> (&'static Executor, &'static Executor) {
    EXECUTORS.with(Cell::get).expect("the executors")
}

fn count(counter: &'static std::thread::LocalKey<Cell<usize>>) {
    counter.with(|c| c.set(c.get() + 1));
}

/// Pending once; woken during its poll (`yield`) or parked for someone to wake.
struct Pending {
    wake_now: bool,
    polled: bool,
}

impl Future for Pending {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.polled, true) {
            return Poll::Ready(());
        }
        if self.wake_now {
            cx.waker().wake_by_ref();
        } else {
            PARKED.with(|p| p.borrow_mut().push(cx.waker().clone()));
        }
        Poll::Pending
    }
}

async fn pending(wake_now: bool) {
    Pending {
        wake_now,
        polled: false,
    }
    .await;
    // Each poll of a worker but its first resumes here.
    count(&POLLS);
}

/// Spawns a worker onto `a` or `b` from the current context, if the pool has room.
fn spawn(onto_b: bool, rounds: u32) {
    let Ok(token) = worker(rounds) else { return };
    let (a, b) = executors();
    let executor = if onto_b { b } else { a };
    executor.spawner().make_send().spawn(token);
    count(&SPAWNS);
}

#[embassy_executor::task(pool_size = 40)]
async fn worker(rounds: u32) {
    count(&POLLS);
    for _ in 0..rounds % 4 {
        match below(4) {
            0 => pending(true).await,
            1 => pending(false).await,
            2 => {
                spawn(below(2) == 0, rounds + 1);
                pending(true).await;
            }
            _ => {
                // An interrupt preempts thread mode's task and runs the interrupt executor.
                if CONTEXT.with(Cell::get) == 0 && below(3) == 0 {
                    // SAFETY: B is polled on this thread only, never from inside its own poll.
                    on_context(2, || unsafe { executors().1.poll() });
                }
                pending(false).await;
            }
        }
    }
}

fn wake_one(wake: impl FnOnce(Waker)) {
    let mut parked = PARKED.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if !parked.is_empty() {
        let i = below(parked.len() as u64) as usize;
        wake(parked.swap_remove(i));
    }
    PARKED.with(|p| p.borrow_mut().extend(parked));
}

fn run(step: u32) {
    let (a, b) = executors();
    match below(10) {
        0 => spawn(false, step),
        1 => on_context(1, || spawn(true, step)),
        2 => on_context(1, || spawn(false, step)),
        // SAFETY: each executor is polled on this thread only, never from inside its own poll.
        3 | 4 => unsafe { a.poll() },
        5 => on_context(2, || unsafe { b.poll() }),
        6 => wake_one(|w| on_context(below(3) as usize, || w.wake())),
        7 => wake_one(|w| raw::wake_task_no_pend(raw::task_from_waker(&w))),
        8 if below(20) == 0 => {
            let m = below(3) as usize;
            TRACER
                .with(|t| t.machine_mut().advance_generation(m))
                .unwrap();
        }
        _ => {
            for w in PARKED.with(|p| std::mem::take(&mut *p.borrow_mut())) {
                on_context(1, || w.wake());
            }
        }
    }
}

#[test]
fn random_runs_of_two_executors_trace_every_spawn_and_poll_as_go_accepts() {
    let leak = || &*Box::leak(Box::new(Executor::new(std::ptr::null_mut())));
    EXECUTORS.with(|e| e.set(Some((leak(), leak()))));
    for seed in 1..=SEEDS {
        RNG.with(|r| r.set(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1));
        SPAWNS.with(|c| c.set(0));
        POLLS.with(|c| c.set(0));
        // Tasks from earlier seeds are still waiting: the new trace states them first.
        TRACER.with(|t| t.machine_mut().start_tracing(0)).unwrap();
        for step in 0..STEPS {
            run(step);
        }
        TRACER.with(|t| t.machine_mut().stop_tracing(0)).unwrap();
        let traces =
            TRACER.with(|t| std::mem::take(&mut t.machine_mut().encoder_mut().sink_mut().traces));
        assert_eq!(
            gotrace_embassy::refusals(),
            Refusals::default(),
            "seed {seed}"
        );

        let Some(judged) = go_judge(&format!("embassy-random-{seed}"), &traces) else {
            return;
        };
        let events: Vec<String> = judged
            .iter()
            .flat_map(|j| j.events())
            .filter_map(|(_, _, line)| Some(line.split_whitespace().next()?.to_owned()))
            .collect();
        let of = |kind: &str| events.iter().filter(|k| *k == kind).count();
        let (spawns, polls) = (SPAWNS.with(Cell::get), POLLS.with(Cell::get));
        assert_eq!(
            of("GoCreate"),
            spawns,
            "seed {seed}: one GoCreate per spawn"
        );
        assert_eq!(of("GoStart"), polls, "seed {seed}: one GoStart per poll");
        assert!(polls > 100, "seed {seed}: only {polls} polls");
    }
}
